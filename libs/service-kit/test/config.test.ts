import { ConfigError, describeConfig, type EnvSchema, loadConfig } from '@rtv/service-kit';
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

  it('describes the schema as README table rows', () => {
    expect(describeConfig(schema)[0]).toBe('| `PORT` | `8000` | port |');
    expect(describeConfig(schema).at(-1)).toBe('| `KEY` | — | key |');
  });
});
