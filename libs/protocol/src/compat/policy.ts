/**
 * The deployment's policy for the OpenAI-compatible `/v1/realtime` route. Pure (no I/O): the gateway picks the
 * caller's class and model at connect, the worker passes every `session.update` and `response.create` through
 * it before the provider sees them, and reads the limits (session length, token budget, message rate) from it.
 *
 * Configuration (JSON, every key optional):
 *
 * ```json
 * {
 *   "classClaim": "rtv_class",
 *   "classes": {
 *     "default": {
 *       "models": ["gpt-realtime"],
 *       "defaultModel": "gpt-realtime",
 *       "pin": { "audio.output.voice": "marin" },
 *       "forbid": ["tracing"],
 *       "tools": { "allow": ["get_weather"] },
 *       "instructionsPrefix": "...",
 *       "maxSessionS": 600,
 *       "budget": { "tokens": 200000, "windowS": 3600 },
 *       "rate": { "eventsPerS": 100, "burst": 200 }
 *     },
 *     "gold": { "models": ["*"], "budget": null }
 *   }
 * }
 * ```
 *
 * - `classClaim`: the JWT claim naming the caller's class (default `rtv_class`); the caller reads it and passes
 *   it to {@link CompatPolicy.classFor}. A missing or unknown class is `default`.
 * - `models`: the models a client may ask for with `?model=`; `"*"` allows any. `defaultModel` is used when
 *   `?model=` is absent and must be allowed. Without a `defaultModel` anywhere, `gpt-realtime` is used if
 *   allowed, else the first listed model.
 * - `pin`: dotted paths inside `session` the deployment fixes; whatever the client sends there becomes this value.
 * - `forbid`: dotted paths inside `session` the client may not send at all (the update is refused).
 * - `tools.allow`: the only function tool names a client may declare; other tools (and non-function tools) are
 *   refused. Without `tools` (or with `null`) any tool is allowed.
 * - `instructionsPrefix`: prepended, with a blank line, to every `instructions` the client sends.
 * - `maxSessionS`: the longest a session may last, in seconds. `budget`: tokens (`response.done` usage
 *   `total_tokens`) a user may spend per fixed window of `windowS` seconds. `rate`: client events per second
 *   and burst per connection.
 *
 * Every class other than `default` takes each key it does not set from `default` (whole values: a class's
 * `pin` replaces the default's, it is not merged). `null` for `tools`, `instructionsPrefix`, `maxSessionS`,
 * `budget` or `rate` means "none" and overrides an inherited value. Without any configuration: any model,
 * `gpt-realtime` by default, nothing pinned or forbidden, any tool, no prefix and no limits.
 */

/** The policy's JSON shape (see the module comment). */
export interface CompatPolicyConfig {
  classClaim?: string;
  classes?: Record<string, CompatClassConfig>;
}

/** One class's settings; unset keys come from the `default` class. */
export interface CompatClassConfig {
  models?: string[];
  defaultModel?: string;
  pin?: Record<string, unknown>;
  forbid?: string[];
  tools?: { allow?: string[] } | null;
  instructionsPrefix?: string | null;
  maxSessionS?: number | null;
  budget?: CompatBudget | null;
  rate?: CompatRate | null;
}

/** Tokens a user may spend per fixed window. */
export interface CompatBudget {
  tokens: number;
  windowS: number;
}

/** Client events a connection may send: sustained per second, and at once. */
export interface CompatRate {
  eventsPerS: number;
  burst: number;
}

/** A client setting the policy refuses; `param` is the dotted path of the offending field, as OpenAI reports it. */
export interface PolicyRefusal {
  ok: false;
  code: 'setting_forbidden';
  message: string;
  param: string;
}

export type ModelResolution =
  | { ok: true; model: string }
  | { ok: false; code: 'model_not_allowed'; message: string };
export type SessionUpdateResult = { ok: true; session: Record<string, unknown> } | PolicyRefusal;
export type ResponseCreateResult =
  | { ok: true; response: Record<string, unknown> | undefined }
  | PolicyRefusal;

export const DEFAULT_CLASS = 'default';
export const DEFAULT_CLASS_CLAIM = 'rtv_class';
export const DEFAULT_COMPAT_MODEL = 'gpt-realtime';
/** Joins the deployment's instructions prefix and the client's instructions. */
export const INSTRUCTIONS_SEPARATOR = '\n\n';

/**
 * The `response.create` override fields a pin can apply to. A pin elsewhere (say `audio.input.*`) has no
 * meaning for one response and is left to the session.
 */
const RESPONSE_FIELDS: readonly string[] = [
  'instructions',
  'tools',
  'tool_choice',
  'max_output_tokens',
  'output_modalities',
  'audio.output.voice',
  'audio.output.format',
];

/** Paths the policy cannot pin or forbid: `type` is required by the protocol, `model` is set by `models`. */
const RESERVED_PATHS: ReadonlySet<string> = new Set(['type', 'model']);
const PATH_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UNSAFE_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const CLASS_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const CLASS_KEYS: ReadonlySet<string> = new Set([
  'models',
  'defaultModel',
  'pin',
  'forbid',
  'tools',
  'instructionsPrefix',
  'maxSessionS',
  'budget',
  'rate',
]);

type JsonObject = Record<string, unknown>;

/** A pinned value at a split path. */
interface Pin {
  readonly path: string;
  readonly segments: readonly string[];
  readonly value: unknown;
}

/** A class with everything inherited filled in, as the policy uses it. */
interface ResolvedClass {
  /** `undefined`: any model. */
  readonly models: ReadonlySet<string> | undefined;
  readonly defaultModel: string;
  readonly pins: readonly Pin[];
  readonly forbid: readonly { readonly path: string; readonly segments: readonly string[] }[];
  /** `undefined`: any tool. */
  readonly toolAllow: ReadonlySet<string> | undefined;
  readonly instructionsPrefix: string | undefined;
  readonly maxSessionS: number | undefined;
  readonly budget: Readonly<CompatBudget> | undefined;
  readonly rate: Readonly<CompatRate> | undefined;
}

/**
 * The parsed policy. Methods taking `userClass` treat an unknown class as `default`, so a class name that
 * came from {@link classFor} and one typed by hand behave the same.
 */
export class CompatPolicy {
  constructor(
    /** The JWT claim that names the caller's class. */
    readonly classClaim: string,
    private readonly classes: ReadonlyMap<string, ResolvedClass>,
  ) {
    if (!classes.has(DEFAULT_CLASS)) throw new Error('compat policy: the default class is missing');
  }

  /** The caller's class: `claims.class` when the policy defines it, else `default`. */
  classFor(claims: { class?: string }): string {
    const name = claims.class;
    return typeof name === 'string' && this.classes.has(name) ? name : DEFAULT_CLASS;
  }

  /** The model to connect to for `?model=` (absent or empty: the class's default), or why it is refused. */
  resolveModel(userClass: string, requested: string | undefined): ModelResolution {
    const policy = this.of(userClass);
    const model = requested === undefined || requested === '' ? policy.defaultModel : requested;
    if (policy.models === undefined || policy.models.has(model)) return { ok: true, model };
    return {
      ok: false,
      code: 'model_not_allowed',
      message: `Model '${model}' is not allowed on this server. Allowed: ${[...policy.models].join(', ')}.`,
    };
  }

  /**
   * The first `session.update` the worker sends for a new session, so pins and the instructions prefix hold
   * before the client's first update (which may never come): `{ type: 'realtime', model, ...pins, instructions }`.
   * `undefined` when the class pins nothing and has no prefix.
   */
  initialSession(userClass: string, model: string): Record<string, unknown> | undefined {
    const policy = this.of(userClass);
    if (policy.pins.length === 0 && policy.instructionsPrefix === undefined) return undefined;
    const session: JsonObject = { type: 'realtime', model };
    for (const pin of policy.pins) setAt(session, pin.segments, pin.value);
    if (policy.instructionsPrefix !== undefined) {
      session.instructions = prefixed(policy.instructionsPrefix, session.instructions);
    }
    return session;
  }

  /**
   * A client's `session.update` body as the provider should get it, as a new object (the argument is not
   * changed), or the first rule it breaks. Refuses forbidden paths (`session.<path>`), a model outside the
   * allowlist (`session.model`) and tools outside the tool allowlist (`session.tools[i].name`, or `.type` for a
   * non-function tool). Sets each pinned path the update touches (the field itself, a field inside it, or an
   * ancestor replaced by a non-object); a pin the update leaves alone is not re-sent, since the provider
   * refuses some fields (the voice, once audio was produced) even when unchanged. {@link initialSession} set
   * them all first. Prefixes `instructions` when the update carries them; `""` or `null` become the prefix
   * alone, so no update can clear it.
   */
  applySessionUpdate(userClass: string, session: Record<string, unknown>): SessionUpdateResult {
    const policy = this.of(userClass);
    const refusal =
      forbiddenIn(policy, session, 'session') ??
      modelRefusal(policy, session.model) ??
      toolsRefusal(policy, session, 'session');
    if (refusal) return refusal;
    return { ok: true, session: withPinsAndPrefix(policy, session, policy.pins) };
  }

  /**
   * The same rules for the `response` overrides of a `response.create`: forbidden paths refused
   * (`response.<path>`), tools and a function `tool_choice` checked against the allowlist, pins applied where
   * the override touches a field a response has ({@link RESPONSE_FIELDS}), `instructions` prefixed. Absent
   * overrides stay absent: the response then uses the session's (already enforced) settings.
   */
  applyResponseCreate(
    userClass: string,
    response: Record<string, unknown> | undefined,
  ): ResponseCreateResult {
    if (response === undefined) return { ok: true, response: undefined };
    const policy = this.of(userClass);
    const refusal = forbiddenIn(policy, response, 'response') ?? toolsRefusal(policy, response, 'response');
    if (refusal) return refusal;
    const pins = policy.pins.filter((pin) => RESPONSE_FIELDS.some((field) => overlaps(pin.path, field)));
    return { ok: true, response: withPinsAndPrefix(policy, response, pins) };
  }

  /** The longest a session of this class may last, in seconds; `undefined`: no limit from the policy. */
  maxSessionS(userClass: string): number | undefined {
    return this.of(userClass).maxSessionS;
  }

  /** Tokens a user of this class may spend per window; `undefined`: no budget. */
  budget(userClass: string): { tokens: number; windowS: number } | undefined {
    const budget = this.of(userClass).budget;
    return budget && { ...budget };
  }

  /** Client events per second and burst per connection; `undefined`: no limit from the policy. */
  rate(userClass: string): { eventsPerS: number; burst: number } | undefined {
    const rate = this.of(userClass).rate;
    return rate && { ...rate };
  }

  /** The class names the policy defines, `default` included. */
  classNames(): string[] {
    return [...this.classes.keys()];
  }

  private of(userClass: string): ResolvedClass {
    return this.classes.get(userClass) ?? this.classes.get(DEFAULT_CLASS)!;
  }
}

/**
 * Reads a policy from its parsed JSON (see the module comment); `undefined` or `null` give the default policy.
 * Unknown keys are refused (a typo would otherwise silently weaken the policy). Throws an Error whose message
 * names the offending path, e.g. `compat policy: classes.gold.budget.tokens must be a positive integer`.
 */
export function parseCompatPolicy(json: unknown): CompatPolicy {
  if (json === undefined || json === null) json = {};
  const root = expectObject(json, '(root)');
  expectKnownKeys(root, new Set(['classClaim', 'classes']), '');
  const classClaim =
    root.classClaim === undefined ? DEFAULT_CLASS_CLAIM : nonEmptyString(root.classClaim, 'classClaim');
  const raw = root.classes === undefined ? {} : expectObject(root.classes, 'classes');
  const configs = new Map<string, JsonObject>();
  for (const [name, value] of Object.entries(raw)) {
    if (!CLASS_NAME.test(name))
      fail(`classes: class name ${JSON.stringify(name)} must be 1-64 of [A-Za-z0-9_.:-]`);
    const config = expectObject(value, `classes.${name}`);
    expectKnownKeys(config, CLASS_KEYS, `classes.${name}.`);
    configs.set(name, config);
  }
  const base = configs.get(DEFAULT_CLASS) ?? {};
  const classes = new Map<string, ResolvedClass>([[DEFAULT_CLASS, resolveClass(DEFAULT_CLASS, base, {})]]);
  for (const [name, config] of configs) {
    if (name !== DEFAULT_CLASS) classes.set(name, resolveClass(name, config, base));
  }
  return new CompatPolicy(classClaim, classes);
}

/** One class's settings with the default class's filling the keys it leaves unset. */
function resolveClass(name: string, own: JsonObject, base: JsonObject): ResolvedClass {
  const where = (key: string) => `classes.${Object.hasOwn(own, key) ? name : DEFAULT_CLASS}.${key}`;
  const pick = (key: string): unknown => (own[key] !== undefined ? own[key] : base[key]);
  const models = parseModels(pick('models'), where('models'));
  const pins = parsePins(pick('pin'), where('pin'));
  const forbid = parseForbid(pick('forbid'), where('forbid'), pins);
  const tools = pick('tools');
  return {
    models,
    defaultModel: parseDefaultModel(pick('defaultModel'), where('defaultModel'), models, where('models')),
    pins,
    forbid,
    toolAllow: tools === undefined || tools === null ? undefined : parseToolAllow(tools, where('tools')),
    instructionsPrefix: optional(pick('instructionsPrefix'), (v) =>
      parsePrefix(v, where('instructionsPrefix')),
    ),
    maxSessionS: optional(pick('maxSessionS'), (v) => positiveInteger(v, where('maxSessionS'))),
    budget: optional(pick('budget'), (v) => parseBudget(v, where('budget'))),
    rate: optional(pick('rate'), (v) => parseRate(v, where('rate'))),
  };
}

function parseModels(value: unknown, path: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const list = expectArray(value, path);
  if (list.length === 0) fail(`${path} must list at least one model (or "*")`);
  const models = list.map((m, i) => nonEmptyString(m, `${path}[${i}]`));
  return models.includes('*') ? undefined : new Set(models);
}

function parseDefaultModel(
  value: unknown,
  path: string,
  models: ReadonlySet<string> | undefined,
  modelsPath: string,
): string {
  if (value === undefined) {
    if (models === undefined || models.has(DEFAULT_COMPAT_MODEL)) return DEFAULT_COMPAT_MODEL;
    return [...models][0]!;
  }
  const model = nonEmptyString(value, path);
  if (models !== undefined && !models.has(model))
    fail(`${path} ${JSON.stringify(model)} is not in ${modelsPath}`);
  return model;
}

function parsePins(value: unknown, path: string): Pin[] {
  if (value === undefined) return [];
  const pins: Pin[] = [];
  for (const [key, pinned] of Object.entries(expectObject(value, path))) {
    const at = `${path}[${JSON.stringify(key)}]`;
    const segments = parsePath(key, at);
    const clash = pins.find((other) => overlaps(other.path, key));
    if (clash) fail(`${at} overlaps the pin ${JSON.stringify(clash.path)}`);
    if (pinned === undefined) fail(`${at} must have a value`);
    pins.push({ path: key, segments, value: structuredClone(pinned) });
  }
  return pins;
}

function parseForbid(value: unknown, path: string, pins: readonly Pin[]): ResolvedClass['forbid'] {
  if (value === undefined) return [];
  return expectArray(value, path).map((entry, i) => {
    const at = `${path}[${i}]`;
    const key = nonEmptyString(entry, at);
    const segments = parsePath(key, at);
    const clash = pins.find((pin) => overlaps(pin.path, key));
    if (clash) fail(`${at} ${JSON.stringify(key)} overlaps the pin ${JSON.stringify(clash.path)}`);
    return { path: key, segments };
  });
}

/** Splits a dotted session path, refusing what could not name a session field. */
function parsePath(key: string, at: string): string[] {
  const segments = key.split('.');
  if (!segments.every((s) => PATH_SEGMENT.test(s) && !UNSAFE_SEGMENTS.has(s))) {
    fail(`${at} must be a dotted path of field names, like "audio.output.voice"`);
  }
  if (RESERVED_PATHS.has(segments[0]!)) {
    fail(`${at} cannot pin or forbid ${JSON.stringify(segments[0])} (models are set with "models")`);
  }
  return segments;
}

function parseToolAllow(value: unknown, path: string): ReadonlySet<string> | undefined {
  const tools = expectObject(value, path);
  expectKnownKeys(tools, new Set(['allow']), `${path}.`);
  if (tools.allow === undefined) return undefined;
  return new Set(
    expectArray(tools.allow, `${path}.allow`).map((n, i) => nonEmptyString(n, `${path}.allow[${i}]`)),
  );
}

function parsePrefix(value: unknown, path: string): string | undefined {
  if (typeof value !== 'string') fail(`${path} must be a string`);
  return value === '' ? undefined : value;
}

function parseBudget(value: unknown, path: string): CompatBudget {
  const budget = expectObject(value, path);
  expectKnownKeys(budget, new Set(['tokens', 'windowS']), `${path}.`);
  return {
    tokens: positiveInteger(budget.tokens, `${path}.tokens`),
    windowS: positiveInteger(budget.windowS, `${path}.windowS`),
  };
}

function parseRate(value: unknown, path: string): CompatRate {
  const rate = expectObject(value, path);
  expectKnownKeys(rate, new Set(['eventsPerS', 'burst']), `${path}.`);
  const eventsPerS = rate.eventsPerS;
  if (typeof eventsPerS !== 'number' || !Number.isFinite(eventsPerS) || eventsPerS <= 0) {
    fail(`${path}.eventsPerS must be a positive number`);
  }
  return { eventsPerS, burst: positiveInteger(rate.burst, `${path}.burst`) };
}

/** `null` means "none", overriding an inherited value; absent means none too (nothing to inherit). */
function optional<T>(value: unknown, parse: (value: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : parse(value);
}

function expectObject(value: unknown, path: string): JsonObject {
  if (!isPlainObject(value)) fail(`${path} must be an object`);
  return value;
}

function expectArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(`${path} must be an array`);
  return value;
}

function expectKnownKeys(object: JsonObject, known: ReadonlySet<string>, pathPrefix: string): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) fail(`${pathPrefix}${key} is not a policy setting`);
  }
}

function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') fail(`${path} must be a non-empty string`);
  return value;
}

function positiveInteger(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(`${path} must be a positive integer`);
  }
  return value;
}

function fail(message: string): never {
  throw new Error(`compat policy: ${message}`);
}

// ---- applying the rules ----

function refusal(param: string, message: string): PolicyRefusal {
  return { ok: false, code: 'setting_forbidden', message, param };
}

function forbiddenIn(policy: ResolvedClass, body: JsonObject, root: string): PolicyRefusal | undefined {
  const hit = policy.forbid.find((f) => valueAt(body, f.segments) !== undefined);
  if (!hit) return undefined;
  return refusal(`${root}.${hit.path}`, `Setting '${root}.${hit.path}' is not allowed on this server.`);
}

function modelRefusal(policy: ResolvedClass, model: unknown): PolicyRefusal | undefined {
  if (model === undefined || policy.models === undefined) return undefined;
  if (typeof model === 'string' && policy.models.has(model)) return undefined;
  return refusal('session.model', `Model ${JSON.stringify(model)} is not allowed on this server.`);
}

/** Checks `tools` and a tool-naming `tool_choice` against the class's tool allowlist. */
function toolsRefusal(policy: ResolvedClass, body: JsonObject, root: string): PolicyRefusal | undefined {
  const allow = policy.toolAllow;
  if (allow === undefined) return undefined;
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const [i, tool] of tools.entries()) {
    const type = isPlainObject(tool) ? tool.type : undefined;
    if (type !== 'function') {
      const shown = typeof type === 'string' ? `'${type}'` : 'not a function tool';
      return refusal(
        `${root}.tools[${i}].type`,
        `Only function tools are allowed on this server (got ${shown}).`,
      );
    }
    const name = (tool as JsonObject).name;
    if (typeof name !== 'string' || !allow.has(name)) {
      return refusal(
        `${root}.tools[${i}].name`,
        `Tool ${JSON.stringify(name)} is not allowed on this server.`,
      );
    }
  }
  const choice = body.tool_choice;
  if (!isPlainObject(choice)) return undefined;
  if (choice.type !== 'function') {
    return refusal(`${root}.tool_choice.type`, 'Only function tools are allowed on this server.');
  }
  if (typeof choice.name !== 'string' || !allow.has(choice.name)) {
    return refusal(
      `${root}.tool_choice.name`,
      `Tool ${JSON.stringify(choice.name)} is not allowed on this server.`,
    );
  }
  return undefined;
}

/** A deep copy of `body` with the touched `pins` set and `instructions`, when present, prefixed. */
function withPinsAndPrefix(policy: ResolvedClass, body: JsonObject, pins: readonly Pin[]): JsonObject {
  const copy = structuredClone(body);
  for (const pin of pins) if (touches(copy, pin.segments)) setAt(copy, pin.segments, pin.value);
  if (policy.instructionsPrefix !== undefined && Object.hasOwn(copy, 'instructions')) {
    copy.instructions = prefixed(policy.instructionsPrefix, copy.instructions);
  }
  return copy;
}

/** The prefix before the client's instructions; anything but a non-empty string leaves the prefix alone. */
function prefixed(prefix: string, instructions: unknown): string {
  return typeof instructions === 'string' && instructions !== ''
    ? `${prefix}${INSTRUCTIONS_SEPARATOR}${instructions}`
    : prefix;
}

/** Whether one dotted path equals, contains or lies inside the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: JsonObject, segments: readonly string[]): unknown {
  let node: unknown = root;
  for (const segment of segments) {
    if (!isPlainObject(node) || !Object.hasOwn(node, segment)) return undefined;
    node = node[segment];
  }
  return node;
}

/**
 * Whether `root` sets the field at `segments`: the field itself (or something inside it) is present, or an
 * ancestor is present but not an object (`"audio": null` replaces everything under it).
 */
function touches(root: JsonObject, segments: readonly string[]): boolean {
  let node: unknown = root;
  for (const segment of segments) {
    if (!isPlainObject(node)) return true;
    if (node[segment] === undefined || !Object.hasOwn(node, segment)) return false;
    node = node[segment];
  }
  return true;
}

/** Sets a copy of `value` at `segments`, creating (or replacing non-object) ancestors on the way. */
function setAt(root: JsonObject, segments: readonly string[], value: unknown): void {
  let node = root;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (isPlainObject(next)) {
      node = next;
    } else {
      const created: JsonObject = {};
      node[segment] = created;
      node = created;
    }
  }
  node[segments.at(-1)!] = structuredClone(value);
}
