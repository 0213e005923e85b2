import { describeJsonType } from '@rtv/protocol';
import {
  REALTIME_VOICES,
  type RealtimeMaxTokens,
  type RealtimeNoiseReduction,
  type RealtimeSession,
  type RealtimeTool,
  type RealtimeToolChoice,
  type RealtimeTranscriptionConfig,
  type RealtimeTurnDetection,
} from '@rtv/protocol/openai-realtime';
import { listValues, quote, RequestError } from './errors.js';

// Validation primitives with the provider's error codes and message wording. Every function takes the
// dotted `param` path of the value so errors point at the exact field (`session.audio.output.speed`).

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidType(param: string, expected: string, value: unknown): RequestError {
  return new RequestError(
    'invalid_type',
    `Invalid type for '${param}': expected ${expected}, but got ${describeJsonType(value)} instead.`,
    param,
  );
}

/** `invalid_type` unless a plain object. */
export function expectObject(value: unknown, param: string): Json {
  if (!isRecord(value)) throw invalidType(param, 'an object', value);
  return value;
}

/** `invalid_type` unless an array. */
export function expectArray(value: unknown, param: string): unknown[] {
  if (!Array.isArray(value)) throw invalidType(param, 'an array', value);
  return value;
}

/** Rejects the first key not in `allowed` with `unknown_parameter`. */
export function rejectUnknown(obj: Json, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const param = path ? `${path}.${key}` : key;
      throw new RequestError('unknown_parameter', `Unknown parameter: '${param}'.`, param);
    }
  }
}

/** `missing_required_parameter` for `param`. */
export function missing(param: string): RequestError {
  return new RequestError('missing_required_parameter', `Missing required parameter: '${param}'.`, param);
}

/** `invalid_value`, listing the supported values the way the provider does when there are some. */
export function invalidValue(value: unknown, param: string, supported?: readonly string[]): RequestError {
  const tail = supported ? ` Supported values are: ${listValues(supported)}.` : '';
  return new RequestError('invalid_value', `Invalid value: ${quote(value)}.${tail}`, param);
}

/** String, optionally at most `maxLength` characters (`string_above_max_length`). */
export function expectString(value: unknown, param: string, maxLength?: number): string {
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  if (maxLength !== undefined && value.length > maxLength) {
    throw new RequestError(
      'string_above_max_length',
      `Invalid '${param}': string too long. Expected a string with maximum length ${maxLength}, but got a string with length ${value.length} instead.`,
      param,
    );
  }
  return value;
}

export function expectBoolean(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') throw invalidType(param, 'a boolean', value);
  return value;
}

/** Number in [min, max]; `integer` switches both the type check and the error codes to the integer family. */
export function expectNumber(
  value: unknown,
  param: string,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const kind = range.integer ? 'integer' : 'decimal';
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw invalidType(param, range.integer ? 'an integer' : 'a number', value);
  }
  if (range.min !== undefined && value < range.min) {
    throw new RequestError(
      `${kind}_below_min_value`,
      `Invalid '${param}': ${kind} below minimum value. Expected a value >= ${range.min}, but got ${value} instead.`,
      param,
    );
  }
  if (range.max !== undefined && value > range.max) {
    throw new RequestError(
      `${kind}_above_max_value`,
      `Invalid '${param}': ${kind} above maximum value. Expected a value <= ${range.max}, but got ${value} instead.`,
      param,
    );
  }
  return value;
}

/** One of `values`; absent (undefined) is `missing_required_parameter`, as callers only reach it when required. */
export function expectEnum<T extends string>(value: unknown, values: readonly T[], param: string): T {
  if (value === undefined) throw missing(param);
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  if (!(values as readonly string[]).includes(value)) throw invalidValue(value, param, values);
  return value as T;
}

/** Nullable string fields (`language`, `prompt`): absent and null both mean "not set". */
function optionalString(obj: Json, key: string, path: string): string | null {
  const v = obj[key];
  return v === undefined || v === null ? null : expectString(v, `${path}.${key}`);
}

// ---------------------------------------------------------------------------------------------------------
// Session sub-objects shared by the GA and beta shapes (they differ in where these live, not in content)
// ---------------------------------------------------------------------------------------------------------

const TRANSCRIPTION_MODELS = [
  'whisper-1',
  'gpt-4o-mini-transcribe',
  'gpt-4o-transcribe',
  'gpt-4o-transcribe-diarize',
] as const;

/** Input transcription settings; `null` turns transcription off. `language`/`prompt` come back as null when unset. */
export function parseTranscription(value: unknown, param: string): RealtimeTranscriptionConfig | null {
  if (value === null) return null;
  const obj = expectObject(value, param);
  rejectUnknown(obj, ['model', 'language', 'prompt'], param);
  const model =
    obj.model === undefined ? 'whisper-1' : expectEnum(obj.model, TRANSCRIPTION_MODELS, `${param}.model`);
  return {
    model,
    language: optionalString(obj, 'language', param),
    prompt: optionalString(obj, 'prompt', param),
  };
}

export function parseNoiseReduction(value: unknown, param: string): RealtimeNoiseReduction {
  if (value === null) return null;
  const obj = expectObject(value, param);
  rejectUnknown(obj, ['type'], param);
  return { type: expectEnum(obj.type, ['near_field', 'far_field'] as const, `${param}.type`) };
}

/**
 * Turn detection with defaults filled in: a new object replaces the old one whole (the provider does not
 * merge VAD settings). `idle_timeout_ms` exists only in GA.
 */
export function parseTurnDetection(value: unknown, param: string, ga: boolean): RealtimeTurnDetection {
  if (value === null) return null;
  const obj = expectObject(value, param);
  const type = expectEnum(obj.type, ['server_vad', 'semantic_vad'] as const, `${param}.type`);
  const flag = (key: string): boolean =>
    obj[key] === undefined ? true : expectBoolean(obj[key], `${param}.${key}`);
  if (type === 'semantic_vad') {
    rejectUnknown(obj, ['type', 'eagerness', 'create_response', 'interrupt_response'], param);
    const eagerness =
      obj.eagerness === undefined
        ? 'auto'
        : expectEnum(obj.eagerness, ['low', 'medium', 'high', 'auto'] as const, `${param}.eagerness`);
    return {
      type,
      eagerness,
      create_response: flag('create_response'),
      interrupt_response: flag('interrupt_response'),
    };
  }
  const keys = [
    'type',
    'threshold',
    'prefix_padding_ms',
    'silence_duration_ms',
    'create_response',
    'interrupt_response',
  ];
  rejectUnknown(obj, ga ? [...keys, 'idle_timeout_ms'] : keys, param);
  const num = (key: string, fallback: number, range: { min?: number; max?: number; integer?: boolean }) =>
    obj[key] === undefined ? fallback : expectNumber(obj[key], `${param}.${key}`, range);
  const detection: RealtimeTurnDetection = {
    type,
    threshold: num('threshold', 0.5, { min: 0, max: 1 }),
    prefix_padding_ms: num('prefix_padding_ms', 300, { min: 0, max: 10_000, integer: true }),
    silence_duration_ms: num('silence_duration_ms', 200, { min: 0, max: 10_000, integer: true }),
    create_response: flag('create_response'),
    interrupt_response: flag('interrupt_response'),
  };
  if (ga) {
    const idle = obj.idle_timeout_ms;
    detection.idle_timeout_ms =
      idle === undefined || idle === null
        ? null
        : expectNumber(idle, `${param}.idle_timeout_ms`, { min: 5_000, max: 30_000, integer: true });
  }
  return detection;
}

/** One of the provider's built-in voices. */
export function parseVoice(value: unknown, param: string): string {
  return expectEnum(value, REALTIME_VOICES, param);
}

/** Playback speed 0.25–1.5; the synthesizer scales durations by it. */
export function parseSpeed(value: unknown, param: string): number {
  return expectNumber(value, param, { min: 0.25, max: 1.5 });
}

export function parseMaxTokens(value: unknown, param: string): RealtimeMaxTokens {
  if (value === 'inf') return 'inf';
  if (typeof value === 'string') throw invalidValue(value, param, ['inf']);
  return expectNumber(value, param, { min: 1, max: 4096, integer: true });
}

const MCP_TOOL_KEYS = [
  'type',
  'server_label',
  'server_url',
  'connector_id',
  'authorization',
  'headers',
  'allowed_tools',
  'require_approval',
  'server_description',
];
const FUNCTION_NAME = /^[a-zA-Z0-9_-]+$/;

/**
 * GA tools: `{type: "function", name, description?, parameters?}` checked field by field (name ≤ 64
 * characters of `[a-zA-Z0-9_-]`, description ≤ 1024, parameters an object), or an MCP tool (known fields
 * only). Unknown fields are `unknown_parameter`, as upstream.
 */
export function parseTools(value: unknown, param: string): RealtimeTool[] {
  return expectArray(value, param).map((raw, i) => {
    const p = `${param}[${i}]`;
    const tool = expectObject(raw, p);
    if (tool.type === undefined) throw missing(`${p}.type`);
    const type = expectEnum(tool.type, ['function', 'mcp'] as const, `${p}.type`);
    if (type === 'mcp') {
      rejectUnknown(tool, MCP_TOOL_KEYS, p);
      if (tool.server_label === undefined) throw missing(`${p}.server_label`);
      // MCP tools are accepted and reported back, but the engine never calls them.
      return { ...tool, type, server_label: expectString(tool.server_label, `${p}.server_label`) };
    }
    rejectUnknown(tool, ['type', 'name', 'description', 'parameters'], p);
    if (tool.name === undefined) throw missing(`${p}.name`);
    const name = expectString(tool.name, `${p}.name`, 64);
    if (!FUNCTION_NAME.test(name)) {
      throw new RequestError(
        'invalid_value',
        `Invalid '${p}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `${p}.name`,
      );
    }
    const fn: RealtimeTool = { type, name };
    if (tool.description !== undefined)
      fn.description = expectString(tool.description, `${p}.description`, 1024);
    if (tool.parameters !== undefined) fn.parameters = expectObject(tool.parameters, `${p}.parameters`);
    return fn;
  });
}

/** `"auto" | "none" | "required"`, or `{type: "function", name}` / `{type: "mcp", server_label, name?}`. */
export function parseToolChoice(value: unknown, param: string): RealtimeToolChoice {
  if (typeof value === 'string') return expectEnum(value, ['auto', 'none', 'required'] as const, param);
  const obj = expectObject(value, param);
  const type = expectEnum(obj.type, ['function', 'mcp'] as const, `${param}.type`);
  if (type === 'function') {
    rejectUnknown(obj, ['type', 'name'], param);
    if (obj.name === undefined) throw missing(`${param}.name`);
    return { type, name: expectString(obj.name, `${param}.name`) };
  }
  rejectUnknown(obj, ['type', 'server_label', 'name'], param);
  if (obj.server_label === undefined) throw missing(`${param}.server_label`);
  const choice: RealtimeToolChoice = {
    type,
    server_label: expectString(obj.server_label, `${param}.server_label`),
  };
  if (obj.name !== undefined) choice.name = expectString(obj.name, `${param}.name`);
  return choice;
}

/** String-to-string metadata, at most 16 pairs (the provider's documented limit). */
export function parseMetadata(value: unknown, param: string): Record<string, string> | null {
  if (value === null) return null;
  const obj = expectObject(value, param);
  const entries = Object.entries(obj);
  if (entries.length > 16) throw invalidValue(`${entries.length} keys`, param);
  for (const [k, v] of entries) expectString(v, `${param}.${k}`, 512);
  return obj as Record<string, string>;
}

/** Context truncation policy. Stored and reported; the engine's context never gets large enough to need it. */
export function parseTruncation(raw: unknown, param: string): RealtimeSession['truncation'] {
  if (typeof raw === 'string') return expectEnum(raw, ['auto', 'disabled'] as const, param);
  const obj = expectObject(raw, param);
  rejectUnknown(obj, ['type', 'retention_ratio', 'token_limits'], param);
  expectEnum(obj.type, ['retention_ratio'] as const, `${param}.type`);
  const ratio = expectNumber(obj.retention_ratio, `${param}.retention_ratio`, { min: 0, max: 1 });
  const result: Exclude<RealtimeSession['truncation'], string> = {
    type: 'retention_ratio',
    retention_ratio: ratio,
  };
  if (obj.token_limits !== undefined) {
    const limits = expectObject(obj.token_limits, `${param}.token_limits`);
    rejectUnknown(limits, ['post_instructions'], `${param}.token_limits`);
    result.token_limits =
      limits.post_instructions === undefined
        ? {}
        : {
            post_instructions: expectNumber(
              limits.post_instructions,
              `${param}.token_limits.post_instructions`,
              {
                min: 0,
                integer: true,
              },
            ),
          };
  }
  return result;
}

/** Tracing settings: stored and reported back, nothing is traced locally. */
export function parseTracing(raw: unknown, param: string): RealtimeSession['tracing'] {
  if (raw === null) return null;
  if (typeof raw === 'string') return expectEnum(raw, ['auto'] as const, param);
  const obj = expectObject(raw, param);
  rejectUnknown(obj, ['workflow_name', 'group_id', 'metadata'], param);
  const tracing: Exclude<RealtimeSession['tracing'], string | null> = {};
  if (obj.workflow_name !== undefined)
    tracing.workflow_name = expectString(obj.workflow_name, `${param}.workflow_name`);
  if (obj.group_id !== undefined) tracing.group_id = expectString(obj.group_id, `${param}.group_id`);
  if (obj.metadata !== undefined) tracing.metadata = expectObject(obj.metadata, `${param}.metadata`);
  return tracing;
}

/** Stored prompt reference: stored and reported back; the engine has no prompt library to resolve it. */
export function parsePrompt(raw: unknown, param: string): RealtimeSession['prompt'] {
  if (raw === null) return null;
  const obj = expectObject(raw, param);
  rejectUnknown(obj, ['id', 'version', 'variables'], param);
  const prompt: NonNullable<RealtimeSession['prompt']> = { id: expectString(obj.id, `${param}.id`) };
  if (obj.version !== undefined) prompt.version = expectString(obj.version, `${param}.version`);
  if (obj.variables !== undefined) {
    prompt.variables = expectObject(obj.variables, `${param}.variables`);
  }
  return prompt;
}
