/**
 * Validates rendered Kubernetes objects against the API's OpenAPI schemas, strictly.
 *
 * `kubernetes-models` (core API) and `@kubernetes-models/prometheus-operator` (ServiceMonitor,
 * PrometheusRule) ship precompiled ajv validators generated from those schemas. They check types, enums,
 * formats and required fields, but the upstream schemas leave `additionalProperties` open, so a misspelt
 * field (`readOnlyRootFileSystem`) would pass, while `kubectl apply` refuses it (strict field validation).
 *
 * Unknown fields are caught by watching the validator: the object is wrapped in proxies that record which
 * properties the validator reads. A compiled validator reads every property its schema declares on each
 * object it descends into, so a key it never read is unknown to the schema. Objects the validator
 * enumerates (maps such as labels or resources.limits) allow any key; objects it never descends into are
 * free-form in the schema and are left alone.
 */

import { validateScaledObject } from './keda-schema.js';

export interface SchemaProblem {
  /** `Kind/name` of the object. */
  object: string;
  /** JSON-pointer-like path of the offending value, or the validator's message. */
  problem: string;
}

interface ModelClass {
  prototype: { validate(this: unknown): void };
}

/** Where each API group's models live. The core group's models sit under `v1/`. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  }
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

const models = new Map<string, Promise<ModelClass | undefined>>();
let installed: Promise<void> | undefined;

/** A missing package must fail loudly, not read as "no schema for this kind". */
function requirePackages(): Promise<void> {
  installed ??= Promise.all(
    ['kubernetes-models', '@kubernetes-models/prometheus-operator'].map((name) =>
      import(name).catch((err: unknown) => {
        throw new Error(`${name} is not installed (a root devDependency: run npm install)`, { cause: err });
      }),
    ),
  ).then(() => undefined);
  return installed;
}

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  await requirePackages();
  const specifier = modelModule(apiVersion, kind);
  let pending = models.get(specifier);
  if (!pending) {
    pending = import(specifier).then(
      (mod: Record<string, ModelClass | undefined>) => mod[kind],
      () => undefined,
    );
    models.set(specifier, pending);
  }
  return pending;
}

/** Wraps `root` so that every property read by a validator is recorded per object. */
function trackReads(root: object) {
  const read = new Map<object, Set<string>>();
  const enumerated = new WeakSet<object>();
  const proxies = new WeakMap<object, object>();
  const note = (target: object, key: string | symbol) => {
    if (typeof key !== 'string') return;
    const keys = read.get(target);
    if (keys) keys.add(key);
    else read.set(target, new Set([key]));
  };
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          note(target, key);
          return wrap(Reflect.get(target, key, receiver));
        },
        has(target, key) {
          note(target, key);
          return Reflect.has(target, key);
        },
        ownKeys(target) {
          enumerated.add(target);
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };

  const unknownFields = (): string[] => {
    const out: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (value === null || typeof value !== 'object') return;
      if (Array.isArray(value)) {
        for (const [i, item] of value.entries()) walk(item, `${path}/${i}`);
        return;
      }
      const keys = read.get(value);
      for (const [key, child] of Object.entries(value)) {
        if (keys && !enumerated.has(value) && !keys.has(key)) out.push(`${path}/${key}`);
        walk(child, `${path}/${key}`);
      }
    };
    walk(root, '');
    return out;
  };
  return { proxy: wrap(root), unknownFields };
}

/**
 * Returns every problem found in `object`: an apiVersion/kind without a schema, schema violations, and
 * fields the schema does not know. An empty list means valid.
 */
export async function validateK8sObject(object: Record<string, unknown>): Promise<SchemaProblem[]> {
  const apiVersion = String(object.apiVersion ?? '');
  const kind = String(object.kind ?? '');
  // KEDA's CRD ships in no schema package: a schema of the fields the chart uses (keda-schema.ts).
  if (apiVersion === 'keda.sh/v1alpha1' && kind === 'ScaledObject') return validateScaledObject(object);
  const name = `${kind || '?'}/${String((object.metadata as { name?: unknown } | undefined)?.name ?? '?')}`;
  const Model = apiVersion && kind ? await loadModel(apiVersion, kind) : undefined;
  if (!Model) return [{ object: name, problem: `no schema for apiVersion ${apiVersion} kind ${kind}` }];

  const problems: SchemaProblem[] = [];
  const tracked = trackReads(object);
  try {
    Model.prototype.validate.call(tracked.proxy);
  } catch (err) {
    problems.push({ object: name, problem: err instanceof Error ? err.message : String(err) });
  }
  for (const path of tracked.unknownFields())
    problems.push({ object: name, problem: `unknown field ${path}` });
  return problems;
}
