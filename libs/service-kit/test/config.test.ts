import { COMMON_ENV, ConfigError, describeConfig, type EnvSchema, loadConfig } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';

const schema = {
  PORT: { type: 'int', min: 0, max: 65535, default: 8000, doc: 'port' },
  RATIO: { type: 'number', min: 0, max: 1, default: 0.5, doc: 'ratio' },
  ON: { type: 'bool', default: false, doc: 'switch' },
  URL: { type: 'url', protocols: ['redis'], default: 'redis://x', doc: 'redis' },
  MODE: { type: 'enum', values: ['a', 'b'], default: 'a', doc: 'mode' },
  KEY: { type: 'string', secret: true, pattern: /^sk-/, doc: 'key' },
} as const satisfies EnvSchema;

describe('loadConfig', () => {
  it('applies defaults and parses values', () => {
    const c = loadConfig('svc', schema, { PORT: '9000', ON: 'yes', MODE: 'b', KEY: 'sk-1' });
    expect(c).toEqual({ PORT: 9000, RATIO: 0.5, ON: true, URL: 'redis://x', MODE: 'b', KEY: 'sk-1' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every bad variable at once, by name, and never echoes a secret', () => {
    let err: unknown;
    try {
      loadConfig('svc', schema, {
        PORT: '80.5',
        RATIO: '2',
        ON: 'maybe',
        URL: 'http://x',
        MODE: 'c',
        KEY: 'pk-secret',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ['PORT=', 'RATIO=', 'ON=', 'URL=', 'MODE=', 'KEY=']) expect(msg).toContain(name);
    expect(msg).toContain('expected an integer');
    expect(msg).toContain('must be <= 1');
    expect(msg).toContain('scheme must be one of redis');
    expect(msg).not.toContain('pk-secret');
    expect((err as ConfigError).problems).toHaveLength(6);
  });

  it('never echoes the password in a bad REDIS_URL, but shows the rest of it', () => {
    const error = configError(COMMON_ENV, { REDIS_URL: 'http://:hunter2@h:1' });
    expect(error.message).toContain('REDIS_URL="http://:***@h:1/": scheme must be one of redis, rediss');
    expect(error.message).not.toContain('hunter2');
    expect(error.problems.join('\n')).not.toContain('hunter2');
    // Where an unparseable password ends is anyone's guess: the whole value is hidden.
    const broken = configError(COMMON_ENV, { REDIS_URL: 'redis://:hun/ter2@h:1' });
    expect(broken.message).toContain('REDIS_URL=<redacted>: not a valid URL');
    expect(broken.message).not.toContain('ter2');
  });

  it('takes a comma-separated REDIS_URL (cluster seeds, sentinels): every entry checked, every password masked', () => {
    const ok = loadConfig('svc', COMMON_ENV, {
      REDIS_URL: 'redis://10.0.0.1:7000,redis://10.0.0.2:7000,rediss://10.0.0.3:7000',
      RTV_REDIS_MODE: 'cluster',
    });
    expect(ok.REDIS_URL).toBe('redis://10.0.0.1:7000,redis://10.0.0.2:7000,rediss://10.0.0.3:7000');
    expect(ok.RTV_REDIS_MODE).toBe('cluster');
    const bad = configError(COMMON_ENV, { REDIS_URL: 'redis://:hunter2@h:1,http://:hunter3@h:2' });
    expect(bad.message).toContain('scheme must be one of redis, rediss');
    expect(bad.message).not.toMatch(/hunter[23]/);
    expect(configError(COMMON_ENV, { RTV_REDIS_MODE: 'replicas' }).message).toContain(
      'RTV_REDIS_MODE="replicas": expected one of single, cluster, sentinel',
    );
  });

  it('takes a git tag or commit as RTV_VERSION and refuses anything else with its name', () => {
    for (const version of ['v1.4.2-3-gabc123', '0.1.0+build.7', 'main/abc1234']) {
      expect(loadConfig('svc', COMMON_ENV, { RTV_VERSION: version }).RTV_VERSION).toBe(version);
    }
    expect(configError(COMMON_ENV, { RTV_VERSION: 'v1 2' }).message).toContain('RTV_VERSION');
    expect(configError(COMMON_ENV, { RTV_VERSION: '<script>' }).message).toContain('RTV_VERSION');
  });

  it('masks the username and password of any URL-typed value', () => {
    const urls = {
      UPSTREAM_URL: { type: 'url', protocols: ['redis'], doc: 'upstream' },
      OTHER_URL: { type: 'url', protocols: ['https'], doc: 'other' },
      BROKEN_URL: { type: 'url', protocols: ['https'], doc: 'broken' },
      PLAIN_URL: { type: 'url', protocols: ['https'], doc: 'plain' },
    } as const satisfies EnvSchema;
    const { message } = configError(urls, {
      UPSTREAM_URL: 'rediss://:s3cret@cache.internal:6380',
      OTHER_URL: 'http://alice:opensesame@proxy.internal:8080/x',
      BROKEN_URL: 'https://bob:pa/ss@word@host',
      PLAIN_URL: 'ftp://files.internal/',
    });
    expect(message).toContain('UPSTREAM_URL="rediss://:***@cache.internal:6380"');
    expect(message).toContain('OTHER_URL="http://***:***@proxy.internal:8080/x"');
    expect(message).toContain('BROKEN_URL=<redacted>');
    expect(message).toContain('PLAIN_URL="ftp://files.internal/"');
    for (const secret of ['s3cret', 'alice', 'opensesame', 'bob', 'pa/ss', 'word@']) {
      expect(message).not.toContain(secret);
    }
  });

  it('never echoes values of variables named like secrets, even without secret: true', () => {
    const named = {
      PROVIDER_API_KEY: { type: 'string', pattern: /^sk-/, doc: 'key' },
      WEBHOOK_SECRET: { type: 'string', pattern: /^whsec_/, doc: 'secret' },
      ADMIN_TOKEN: { type: 'string', pattern: /^t-/, doc: 'token' },
      DB_PASSWORD: { type: 'enum', values: ['x'], doc: 'password' },
      SESSION_TIMEOUT_MS: { type: 'int', doc: 'not a secret' },
    } as const satisfies EnvSchema;
    const { message, problems } = configError(named, {
      PROVIDER_API_KEY: 'pk-leak-1',
      WEBHOOK_SECRET: 'leak-2',
      ADMIN_TOKEN: 'leak-3',
      DB_PASSWORD: 'leak-4',
      SESSION_TIMEOUT_MS: 'soon',
    });
    expect(problems).toHaveLength(5);
    for (const name of ['PROVIDER_API_KEY', 'WEBHOOK_SECRET', 'ADMIN_TOKEN', 'DB_PASSWORD']) {
      expect(message).toContain(`${name}=<redacted>`);
    }
    expect(message).not.toMatch(/leak-\d/);
    expect(message).toContain('SESSION_TIMEOUT_MS="soon"');
  });

  it('masks URL credentials in problems that callers build themselves', () => {
    const error = new ConfigError('svc', ['UPSTREAM: redis://user:hunter2@host:6379 refused the connection']);
    expect(error.message).toContain('redis://***:***@host:6379');
    expect(error.message).not.toContain('hunter2');
    expect(error.problems[0]).not.toContain('hunter2');
  });

  it('describes the schema as README table rows', () => {
    expect(describeConfig(schema)[0]).toBe('| `PORT` | `8000` | port |');
    expect(describeConfig(schema).at(-1)).toBe('| `KEY` | — | key |');
  });
});

/** The ConfigError that loading `env` throws (fails the test when nothing is thrown). */
function configError(schema: EnvSchema, env: Record<string, string>): ConfigError {
  try {
    loadConfig('svc', schema, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
