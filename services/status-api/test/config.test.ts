// The status API checks its RTV_AUTH_* variables with the gateway's own settings parser: a configuration
// the gateway refuses is refused here too, at start, naming the variable and never a secret's value.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateApiKey } from '@rtv/auth';
import { ConfigError } from '@rtv/service-kit';
import { REPO_ROOT } from '@rtv/testing';
import { describe, expect, it } from 'vitest';
import { loadStatusConfig, verifierFromConfig } from '../src/config.js';

const SHORT_SECRET = 'only-31-bytes-long-not-enough!!';
const JWKS_URL = 'https://idp.example.test/.well-known/jwks.json';

/** The ConfigError that building the verifier from `env` throws (fails the test when nothing is thrown). */
function configError(env: Record<string, string>): ConfigError {
  try {
    verifierFromConfig(loadStatusConfig(env));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('status API auth configuration', () => {
  it('has no verifier when no credential kind is configured', () => {
    expect(verifierFromConfig(loadStatusConfig({}))).toBeUndefined();
  });

  it('builds a verifier from a long enough secret, or from API keys alone', () => {
    expect(verifierFromConfig(loadStatusConfig({ RTV_AUTH_JWT_SECRET: 's'.repeat(32) }))).toBeDefined();
    const key = generateApiKey();
    expect(verifierFromConfig(loadStatusConfig({ RTV_AUTH_API_KEYS: `ops:${key.hash}` }))).toBeDefined();
  });

  it('refuses a JWT secret under 32 bytes, naming the variable but not the secret', () => {
    expect(Buffer.byteLength(SHORT_SECRET)).toBe(31);
    const { message } = configError({ RTV_AUTH_JWT_SECRET: SHORT_SECRET });
    expect(message).toMatch(/^status-api: invalid configuration/);
    expect(message).toContain('RTV_AUTH_JWT_SECRET');
    expect(message).toContain('at least 32 bytes');
    expect(message).not.toContain(SHORT_SECRET);
  });

  it('refuses a JWKS URL without an issuer (and audience)', () => {
    const { message } = configError({ RTV_AUTH_JWKS_URL: JWKS_URL, RTV_AUTH_AUDIENCE: 'realtime-voice' });
    expect(message).toContain('RTV_AUTH_JWKS_URL');
    expect(message).toContain('RTV_AUTH_ISSUER');
  });

  it('reports every problem at once', () => {
    const { problems } = configError({ RTV_AUTH_JWT_SECRET: SHORT_SECRET, RTV_AUTH_JWKS_URL: JWKS_URL });
    expect(problems).toHaveLength(2);
  });

  it('the service exits with status 2 and names the variable before touching Redis', async () => {
    const run = promisify(execFile);
    const started = run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'services/status-api/src/main.ts'],
      {
        cwd: REPO_ROOT,
        // Nothing listens on port 1: were the check skipped, the service would fail on Redis instead.
        env: {
          ...process.env,
          RTV_AUTH_JWT_SECRET: SHORT_SECRET,
          REDIS_URL: 'redis://127.0.0.1:1',
          RTV_STATUS_PORT: '0',
        },
        timeout: 20_000,
      },
    );
    const failure = (await started.then(
      () => undefined,
      (err: unknown) => err,
    )) as { code?: number; stderr?: string } | undefined;
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('RTV_AUTH_JWT_SECRET');
    expect(failure?.stderr).not.toContain(SHORT_SECRET);
  });
});
