/**
 * Typed environment configuration. Each service declares one schema: every variable has a type, a default
 * and a doc string. `loadConfig` validates all of them at start, reports every bad variable at once (naming
 * it and what was expected), and returns a frozen object.
 */
export type EnvSpec =
  | { type: 'string'; default?: string; doc: string; pattern?: RegExp; secret?: boolean }
  | { type: 'int'; default?: number; doc: string; min?: number; max?: number }
  | { type: 'number'; default?: number; doc: string; min?: number; max?: number }
  | { type: 'bool'; default?: boolean; doc: string }
  | { type: 'url'; default?: string; doc: string; protocols: readonly string[] }
  | { type: 'enum'; default?: string; doc: string; values: readonly string[] };

export type EnvSchema = Record<string, EnvSpec>;

type ValueOf<S extends EnvSpec> = S extends { type: 'int' | 'number' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : string;

/** Variables with a default are always present; the others may be undefined. */
export type ConfigOf<T extends EnvSchema> = {
  readonly [K in keyof T]: T[K] extends { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`${service}: invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig<T extends EnvSchema>(
  service: string,
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<T> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out[name] = spec.default;
      continue;
    }
    const parsed = parseValue(spec, raw.trim());
    if (typeof parsed === 'object' && parsed !== null && 'problem' in parsed) {
      const shown = 'secret' in spec && spec.secret ? '<redacted>' : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${parsed.problem} (${spec.doc})`);
    } else {
      out[name] = parsed;
    }
  }
  if (problems.length > 0) throw new ConfigError(service, problems);
  return Object.freeze(out) as ConfigOf<T>;
}

function parseValue(spec: EnvSpec, raw: string): unknown {
  switch (spec.type) {
    case 'string':
      if (spec.pattern && !spec.pattern.test(raw)) return { problem: `must match ${spec.pattern}` };
      return raw;
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
        return { problem: `expected ${spec.type === 'int' ? 'an integer' : 'a number'}` };
      }
      if (spec.min !== undefined && n < spec.min) return { problem: `must be >= ${spec.min}` };
      if (spec.max !== undefined && n > spec.max) return { problem: `must be <= ${spec.max}` };
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      return { problem: 'expected true/false' };
    case 'url': {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return { problem: 'not a valid URL' };
      }
      if (!spec.protocols.includes(url.protocol.replace(/:$/, ''))) {
        return { problem: `scheme must be one of ${spec.protocols.join(', ')}` };
      }
      return raw;
    }
    case 'enum':
      if (!spec.values.includes(raw)) return { problem: `expected one of ${spec.values.join(', ')}` };
      return raw;
  }
}

/** Markdown rows (`| NAME | default | description |`) for the README's configuration table. */
export function describeConfig(schema: EnvSchema): string[] {
  return Object.entries(schema).map(
    ([name, spec]) =>
      `| \`${name}\` | ${spec.default === undefined ? '—' : `\`${String(spec.default)}\``} | ${spec.doc} |`,
  );
}

/** Variables every service reads. */
export const COMMON_ENV = {
  REDIS_URL: {
    type: 'url',
    protocols: ['redis', 'rediss'],
    default: 'redis://127.0.0.1:6379',
    doc: 'Redis connection URL',
  },
  RTV_REDIS_PREFIX: {
    type: 'string',
    pattern: /^[A-Za-z0-9_:{}.-]{1,64}$/,
    default: 'rtv',
    doc: 'Prefix of every Redis key (use a hash tag such as {rtv} on Redis Cluster)',
  },
  RTV_LOG_LEVEL: {
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'Log level',
  },
} as const satisfies EnvSchema;
