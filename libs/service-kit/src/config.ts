/**
 * Typed environment configuration. Each service declares one schema: every variable has a type, a default
 * and a doc string. `loadConfig` validates all of them at start, reports every bad variable at once (naming
 * it and what was expected), and returns a frozen object.
 */
export type EnvSpec =
  | { type: 'string'; default?: string; doc: string; pattern?: RegExp; minLength?: number; secret?: boolean }
  | { type: 'int'; default?: number; doc: string; min?: number; max?: number }
  | { type: 'number'; default?: number; doc: string; min?: number; max?: number }
  | { type: 'bool'; default?: boolean; doc: string }
  /** One URL, or with `list` a comma-separated list of them (each checked). */
  | { type: 'url'; default?: string; doc: string; protocols: readonly string[]; list?: boolean }
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
  /** One line per bad variable; any `scheme://user:password@` in them is masked, whoever built them. */
  readonly problems: string[];

  constructor(
    readonly service: string,
    problems: string[],
  ) {
    const masked = problems.map(maskUrlCredentials);
    super(`${service}: invalid configuration:\n  - ${masked.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = masked;
  }
}

/**
 * Names whose values are secrets: never echoed, not even in part. A URL's password (`REDIS_URL` carries one:
 * `redis://:password@host:6379`) is masked by {@link redactUrl} instead, so the rest still helps the reader.
 */
const SECRET_NAME = /(?:^|_)(?:KEYS?|SECRETS?|TOKENS?|PASSWORDS?|PASSWD)$/;

/** How a bad value appears in a {@link ConfigError}: quoted, with secrets and URL credentials hidden. */
function shownValue(name: string, spec: EnvSpec, raw: string): string {
  if (('secret' in spec && spec.secret) || SECRET_NAME.test(name)) return '<redacted>';
  if (spec.type === 'url')
    return raw
      .split(',')
      .map((part) => redactUrl(part.trim()))
      .join(',');
  return JSON.stringify(raw);
}

/**
 * A URL with its username and password replaced by `***` (`redis://:***@host:6379`). A value that does not
 * parse, or parses with an `@` left outside the credentials, is hidden whole: where its password ends is
 * then anyone's guess.
 */
function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return raw.includes('@') ? '<redacted>' : JSON.stringify(raw);
  }
  if (`${url.pathname}${url.search}${url.hash}`.includes('@')) return '<redacted>';
  if (url.username === '' && url.password === '') return JSON.stringify(raw);
  if (url.username !== '') url.username = '***';
  if (url.password !== '') url.password = '***';
  // A URL that cannot carry credentials ignores the setters: then there is nothing safe to show.
  return /^(\*{3})?$/.test(url.username) && /^(\*{3})?$/.test(url.password)
    ? JSON.stringify(url.href)
    : '<redacted>';
}

/** Masks the userinfo of every `scheme://user:password@` in free text (`scheme://***:***@`). */
function maskUrlCredentials(text: string): string {
  return text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s"'<>]*)@/gi,
    (_match, scheme: string, userinfo: string) =>
      `${scheme}${userinfo
        .split(':')
        .slice(0, 2)
        .map((part) => (part === '' ? '' : '***'))
        .join(':')}@`,
  );
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
      problems.push(`${name}=${shownValue(name, spec, raw)}: ${parsed.problem} (${spec.doc})`);
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
      if (spec.minLength !== undefined && raw.length < spec.minLength)
        return { problem: `must be at least ${spec.minLength} characters` };
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
      const parts = spec.list ? raw.split(',').map((part) => part.trim()) : [raw];
      for (const part of parts) {
        let url: URL;
        try {
          url = new URL(part);
        } catch {
          return {
            problem:
              parts.length > 1 ? `not a list of valid URLs (${parts.length} given)` : 'not a valid URL',
          };
        }
        if (!spec.protocols.includes(url.protocol.replace(/:$/, ''))) {
          return { problem: `scheme must be one of ${spec.protocols.join(', ')}` };
        }
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
    list: true,
    default: 'redis://127.0.0.1:6379',
    doc: 'Redis connection URL (redis:// or rediss:// for TLS); with RTV_REDIS_MODE=cluster a comma-separated list of seed nodes, with RTV_REDIS_MODE=sentinel a comma-separated list of sentinels. The password may come apart in REDIS_PASSWORD',
  },
  RTV_REDIS_MODE: {
    type: 'enum',
    values: ['single', 'cluster', 'sentinel'],
    default: 'single',
    doc: 'How Redis is deployed: single (one endpoint), cluster (Redis Cluster: REDIS_URL lists seed nodes; the client follows MOVED/ASK and failovers) or sentinel (REDIS_URL lists sentinels; the client asks them for the master named by RTV_REDIS_SENTINEL_MASTER and follows its failovers)',
  },
  RTV_REDIS_SENTINEL_MASTER: {
    type: 'string',
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    doc: 'Name of the master the sentinels monitor (RTV_REDIS_MODE=sentinel)',
  },
  RTV_REDIS_SENTINEL_PASSWORD: {
    type: 'string',
    secret: true,
    doc: 'Password of the sentinels themselves, when they require one (RTV_REDIS_MODE=sentinel); REDIS_PASSWORD is the data nodes’',
  },
  REDIS_PASSWORD: {
    type: 'string',
    secret: true,
    doc: 'Redis password, sent with AUTH (as the user REDIS_URL names, if any); keeps the password out of REDIS_URL, e.g. from its own Secret. Refused when REDIS_URL carries a password too',
  },
  RTV_REDIS_TLS_CA_FILE: {
    type: 'string',
    doc: 'PEM file of the CA that signed the Redis server certificate, for rediss:// (default: the public roots); refused with a redis:// URL',
  },
  RTV_REDIS_PREFIX: {
    type: 'string',
    pattern: /^[A-Za-z0-9_:.-]{1,64}$/,
    default: 'rtv',
    doc: 'Prefix of every Redis key. No braces: the keys carry their own hash tags (a session and its history share one, each stream has its own), so they spread over a Redis Cluster',
  },
  RTV_LOG_LEVEL: {
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'Log level',
  },
  RTV_SHUTDOWN_TIMEOUT_S: {
    type: 'number',
    min: 0.001,
    max: 3600,
    default: 30,
    doc: 'Hard limit on the shutdown after SIGTERM/SIGINT, in seconds: a drain still running then is cut short and the process exits 1. Keep it below the orchestrator’s kill delay (the Helm chart sets it from drain.timeoutSeconds, below terminationGracePeriodSeconds minus the preStop sleep)',
  },
  RTV_VERSION: {
    type: 'string',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.+:/-]{0,127}$/,
    doc: 'Version the process reports in /healthz and rtv_build_info (e.g. a git tag or commit, set by the image build or the deployment); default: the service’s package.json version',
  },
  RTV_ADMIN_HOST: {
    type: 'string',
    pattern: /^[A-Za-z0-9.:-]{1,253}$/,
    default: '127.0.0.1',
    doc: 'Interface the admin port (/metrics, /healthz, /readyz of the gateway and the session worker) binds to: loopback by default; the Helm chart and docker-compose set 0.0.0.0 so Prometheus and probes reach it (the status API serves these on RTV_STATUS_HOST)',
  },
} as const satisfies EnvSchema;
