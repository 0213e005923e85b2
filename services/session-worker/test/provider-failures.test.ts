// How provider failures are classified and acted on, against real sockets: a real `ws` server playing the
// provider (refusals after the upgrade as OpenAI sends them, HTTP refusals as Azure and proxies send them,
// drops), a real local engine, and the worker's own ProviderConnection / ProviderSession / ProviderHealth.
import { Writable } from 'node:stream';
import type { HistoryItem } from '@rtv/bus';
import { startLocalEngine } from '@rtv/local-engine';
import { DEFAULT_SESSION_CONFIG } from '@rtv/protocol';
import { createLogger } from '@rtv/service-kit';
import { freePort, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';
import { createWorkerMetrics } from '../src/metrics.js';
import {
  ProviderConnectError,
  ProviderConnection,
  type ProviderShape,
} from '../src/upstream/provider-connection.js';
import type { ProviderFailure } from '../src/upstream/provider-failure.js';
import { ProviderHealth } from '../src/upstream/provider-health.js';
import { ProviderSession, type ProviderSessionOptions } from '../src/upstream/provider-session.js';
import { type ResolvedProvider, resolveProvider } from '../src/upstream/resolve-provider.js';
import {
  FakeProvider,
  type FakeProviderOptions,
  freshRegistry,
  metricValue,
  silentLogger,
} from './helpers/fake-provider.js';

const providers: FakeProvider[] = [];
const sessions: ProviderSession[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const p of providers.splice(0)) await p.stop();
  for (const c of cleanups.splice(0)) await c();
});

async function startProvider(opts?: FakeProviderOptions): Promise<FakeProvider> {
  const provider = await FakeProvider.start(opts);
  providers.push(provider);
  return provider;
}

/** What `ProviderConnection.connect()` rejected with (fails the test when it resolved). */
async function connectFailure(
  url: string,
  extra: { shape?: ProviderShape; apiKey?: string; model?: string; connectTimeoutMs?: number } = {},
): Promise<{ failure: ProviderFailure; message: string }> {
  const conn = new ProviderConnection(
    { url, model: extra.model ?? 'gpt-realtime', shape: extra.shape ?? 'ga', ...extra },
    { onEvent: () => undefined, onClose: () => undefined },
  );
  try {
    await conn.connect();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderConnectError);
    return { failure: (err as ProviderConnectError).failure, message: (err as Error).message };
  } finally {
    conn.close();
  }
  throw new Error('connect() resolved; a failure was expected');
}

interface Harness {
  session: ProviderSession;
  unavailable: ProviderFailure[];
  connects: Array<[boolean, ProviderFailure | undefined]>;
  reconnecting: number;
  registry: ReturnType<typeof freshRegistry>;
}

const history: HistoryItem[] = [{ role: 'user', type: 'text', text: 'Hello', at: 1 }];

function harness(url: string, overrides: Partial<ProviderSessionOptions> = {}): Harness {
  const registry = freshRegistry();
  const h: Harness = {
    unavailable: [],
    connects: [],
    reconnecting: 0,
    registry,
    session: undefined as unknown as ProviderSession,
  };
  h.session = new ProviderSession({
    url,
    model: 'gpt-realtime',
    shape: 'ga',
    log: silentLogger(),
    metrics: createWorkerMetrics(registry),
    onEvent: () => undefined,
    onReconnecting: () => h.reconnecting++,
    onUnavailable: (failure) => h.unavailable.push(failure),
    onConnect: (ok, failure) => h.connects.push([ok, failure]),
    context: async () => ({ config: DEFAULT_SESSION_CONFIG, history }),
    maxAttempts: 3,
    backoffMs: 5,
    ...overrides,
  });
  sessions.push(h.session);
  return h;
}

/** Time for a retry that should not happen to show up (backoffs in these tests are a few ms). */
const settle = () => new Promise((r) => setTimeout(r, 150));

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('test', 'debug', sink), lines };
}

const DEPLOYMENT_NOT_FOUND = JSON.stringify({
  error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' },
});

describe('ProviderConnection classifies what stops a connect', () => {
  it.each([
    [
      'error + close 4000 invalid_model (an unknown or retired model)',
      { refuse: { type: 'invalid_request_error', code: 'invalid_model', closeCode: 4000 } },
      { kind: 'model_unavailable', fatal: true, detail: 'invalid_request_error.invalid_model' },
    ],
    [
      'error + close 4000 missing_model',
      { refuse: { type: 'invalid_request_error', code: 'missing_model', closeCode: 4000 } },
      { kind: 'model_unavailable', fatal: true, detail: 'invalid_request_error.missing_model' },
    ],
    [
      'error + close 3000 invalid_api_key',
      { refuse: { type: 'invalid_request_error', code: 'invalid_api_key', closeCode: 3000 } },
      { kind: 'auth_failed', fatal: true, detail: 'invalid_request_error.invalid_api_key' },
    ],
    [
      'close 3000 without a code (no auth header)',
      { refuse: { type: 'invalid_request_error', code: null, closeCode: 3000 } },
      { kind: 'auth_failed', fatal: true, detail: 'invalid_request_error' },
    ],
    [
      'error + close 4000 beta_api_shape_disabled',
      { refuse: { type: 'invalid_request_error', code: 'beta_api_shape_disabled', closeCode: 4000 } },
      { kind: 'shape_unsupported', fatal: true, detail: 'invalid_request_error.beta_api_shape_disabled' },
    ],
    [
      'HTTP 401 on the upgrade',
      { refuseUpgrade: { status: 401, body: '{"error":{"code":"401","message":"Access denied"}}' } },
      { kind: 'auth_failed', fatal: true, detail: 'http_401' },
    ],
    ['HTTP 403 on the upgrade', { refuseUpgrade: { status: 403 } }, { kind: 'auth_failed', fatal: true }],
    [
      'HTTP 404 DeploymentNotFound (Azure, unknown deployment)',
      { refuseUpgrade: { status: 404, body: DEPLOYMENT_NOT_FOUND } },
      { kind: 'model_unavailable', fatal: true, detail: 'http_404.DeploymentNotFound' },
    ],
    [
      'HTTP 404 without a body',
      { refuseUpgrade: { status: 404 } },
      { kind: 'model_unavailable', fatal: true, detail: 'http_404' },
    ],
    [
      'HTTP 429 on the upgrade',
      { refuseUpgrade: { status: 429, body: '{"error":{"code":"429","message":"Rate limit"}}' } },
      { kind: 'unavailable', fatal: false, detail: 'http_429' },
    ],
    [
      'HTTP 503 on the upgrade',
      { refuseUpgrade: { status: 503 } },
      { kind: 'unavailable', fatal: false, detail: 'http_503' },
    ],
    [
      'a socket dropped before session.created',
      { onConnect: 'drop' },
      { kind: 'unavailable', fatal: false, detail: 'close_1006' },
    ],
    [
      'close 1011 with a server_error',
      { refuse: { type: 'server_error', code: 'server_error', closeCode: 1011 } },
      { kind: 'unavailable', fatal: false, detail: 'server_error.server_error.close_1011' },
    ],
  ] as Array<[string, FakeProviderOptions, Partial<ProviderFailure>]>)(
    '%s',
    async (_name, opts, expected) => {
      const provider = await startProvider(opts);
      const { failure } = await connectFailure(provider.url);
      expect(failure).toMatchObject(expected);
      expect(failure.code).toBe(
        {
          model_unavailable: 'upstream_model_unavailable',
          auth_failed: 'upstream_auth_failed',
          shape_unsupported: 'upstream_shape_unsupported',
          unavailable: 'upstream_unavailable',
        }[failure.kind],
      );
      expect(provider.attempts).toBe(1);
    },
  );

  it('an unreachable port and a provider that never says session.created are retryable', async () => {
    const refused = await connectFailure(`ws://127.0.0.1:${await freePort()}/v1/realtime`);
    expect(refused.failure).toMatchObject({ kind: 'unavailable', fatal: false, detail: 'ECONNREFUSED' });
    const silent = await startProvider({ onConnect: 'hold' });
    const timedOut = await connectFailure(silent.url, { connectTimeoutMs: 150 });
    expect(timedOut.failure).toMatchObject({ kind: 'unavailable', fatal: false, detail: 'timeout' });
  });

  it('classifies the local engine’s own refusals: a retired model, the beta shape, a wrong key', async () => {
    const config = loadWorkerConfig({ RTV_LOG_LEVEL: 'silent', RTV_ENGINE_MODE: 'echo' });
    const provider = await resolveProvider(config, silentLogger());
    cleanups.push(() => provider.engine!.close());
    const retired = await connectFailure(provider.url, { model: 'gpt-4o-realtime-preview-2024-10-01' });
    expect(retired.failure).toMatchObject({ kind: 'model_unavailable', fatal: true });
    const beta = await connectFailure(provider.url, { shape: 'beta' });
    expect(beta.failure).toMatchObject({
      kind: 'shape_unsupported',
      detail: 'invalid_request_error.beta_api_shape_disabled',
    });
    const keyed = await startLocalEngine({ mode: 'echo', apiKey: 'the-right-key' });
    cleanups.push(() => keyed.close());
    const wrongKey = await connectFailure(keyed.url, { apiKey: 'a-wrong-key' });
    expect(wrongKey.failure).toMatchObject({ kind: 'auth_failed', fatal: true });
    expect(wrongKey.message).not.toContain('a-wrong-key');
    // Azure's form of the same engine: the api-key header, the deployment as model=.
    const azure = await connectFailure(keyed.azureUrl, { model: 'voice-prod' });
    expect(azure.failure).toMatchObject({ kind: 'auth_failed' });
  });
});

describe('ProviderSession acts on the classification', () => {
  it.each([
    [
      'close 4000 invalid_model',
      { refuse: { type: 'invalid_request_error', code: 'invalid_model', closeCode: 4000 } },
      'model_unavailable',
    ],
    [
      'close 3000 invalid_api_key',
      { refuse: { type: 'invalid_request_error', code: 'invalid_api_key', closeCode: 3000 } },
      'auth_failed',
    ],
    [
      'beta_api_shape_disabled',
      { refuse: { type: 'invalid_request_error', code: 'beta_api_shape_disabled', closeCode: 4000 } },
      'shape_unsupported',
    ],
    ['HTTP 401', { refuseUpgrade: { status: 401 } }, 'auth_failed'],
    [
      'HTTP 404 (Azure deployment)',
      { refuseUpgrade: { status: 404, body: DEPLOYMENT_NOT_FOUND } },
      'model_unavailable',
    ],
  ] as Array<[string, FakeProviderOptions, string]>)(
    'a fatal failure (%s) makes exactly one connection attempt and is reported at once',
    async (_name, opts, kind) => {
      const provider = await startProvider(opts);
      const h = harness(provider.url, { maxAttempts: 5, backoffMs: 1 });
      expect(await h.session.open(false)).toBe(false);
      await settle();
      expect(provider.attempts).toBe(1);
      expect(h.unavailable.map((f) => [f.kind, f.fatal])).toEqual([[kind, true]]);
      expect(h.connects).toEqual([[false, h.unavailable[0]]]);
      expect(
        await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_fatal' }),
      ).toBe(1);
      expect(
        await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_retryable' }),
      ).toBe(0);
    },
  );

  it.each([
    ['HTTP 429', { refuseUpgrade: { status: 429 } }, 'http_429'],
    ['HTTP 503', { refuseUpgrade: { status: 503 } }, 'http_503'],
    ['a drop before session.created', { onConnect: 'drop' }, 'close_1006'],
  ] as Array<[string, FakeProviderOptions, string]>)(
    'a retryable failure (%s) is retried (here until maxAttempts caps it), then reported once',
    async (_name, opts, detail) => {
      const provider = await startProvider(opts);
      // The delays (full jitter, doubling, capped) and the time budget are proved on a fake clock in
      // provider-outage.test.ts: full jitter has no lower bound worth measuring here.
      const h = harness(provider.url, { maxAttempts: 3, backoffMs: 40 });
      expect(await h.session.open(false)).toBe(false);
      await settle();
      expect(provider.attempts).toBe(3);
      expect(h.unavailable).toEqual([
        { kind: 'unavailable', fatal: false, code: 'upstream_unavailable', detail },
      ]);
      expect(
        await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_retryable' }),
      ).toBe(3);
    },
  );

  it('recovers when a retryable failure clears within the budget', async () => {
    const provider = await startProvider({ refuseUpgrade: { status: 503 } });
    const h = harness(provider.url, { maxAttempts: undefined, backoffMs: 40 });
    const opened = h.session.open(false);
    await provider.waitForAttempts(2);
    provider.configure({});
    expect(await opened).toBe(true);
    expect(provider.attempts).toBeGreaterThanOrEqual(3);
    expect(h.unavailable).toEqual([]);
    expect(h.connects).toEqual([[true, undefined]]);
  });

  it('reconnects after a drop past session.created, and stops at once when the reconnect is refused for good', async () => {
    const provider = await startProvider();
    const h = harness(provider.url, { maxAttempts: 5, backoffMs: 1 });
    expect(await h.session.open(false)).toBe(true);
    // The key is revoked while the session runs, then the socket drops.
    provider.configure({
      refuse: { type: 'invalid_request_error', code: 'invalid_api_key', closeCode: 3000 },
    });
    provider.drop(1);
    await waitFor(() => h.unavailable.length === 1, { message: 'onUnavailable' });
    await settle();
    expect(h.reconnecting).toBe(1);
    expect(provider.attempts).toBe(2);
    expect(h.unavailable[0]).toMatchObject({ kind: 'auth_failed', fatal: true });
    expect(await metricValue(h.registry, 'rtv_worker_upstream_reconnects_total', { result: 'failed' })).toBe(
      1,
    );
  });

  it('a drop past session.created is a lost session: it reconnects and goes on', async () => {
    const provider = await startProvider();
    const h = harness(provider.url);
    expect(await h.session.open(false)).toBe(true);
    provider.drop(1);
    await provider.waitForConnections(2);
    await waitFor(() => h.connects.length === 2, { message: 'reconnected' });
    expect(h.connects).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    expect(h.reconnecting).toBe(1);
    expect(h.unavailable).toEqual([]);
  });
});

describe('ProviderHealth: one worker-wide record of provider failures', () => {
  it('every new session still tries once, but a fatal failure is logged once, not per session', async () => {
    const provider = await startProvider({
      refuse: { type: 'invalid_request_error', code: 'invalid_model', closeCode: 4000 },
    });
    const { log, lines } = capturingLogger();
    const health = new ProviderHealth(log);
    for (let i = 0; i < 4; i++) {
      const h = harness(provider.url, { onConnect: (ok, failure) => health.record(ok, failure) });
      expect(await h.session.open(false)).toBe(false);
    }
    expect(provider.attempts).toBe(4);
    expect(health.ok).toBe(false);
    expect(health.error).toBe('model_unavailable');
    expect(health.lastFailure).toMatchObject({ fatal: true, detail: 'invalid_request_error.invalid_model' });
    const errors = lines.filter((l) => (l.level as number) >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ failure: 'model_unavailable', code: 'upstream_model_unavailable' });

    // A retryable failure meanwhile does not hide the fatal one; a success clears it (logged once).
    health.record(false, {
      kind: 'unavailable',
      fatal: false,
      code: 'upstream_unavailable',
      detail: 'http_503',
    });
    expect(health.error).toBe('model_unavailable');
    provider.configure({});
    const fixed = harness(provider.url, { onConnect: (ok, failure) => health.record(ok, failure) });
    expect(await fixed.session.open(false)).toBe(true);
    expect(health.ok).toBe(true);
    expect(health.error).toBe('');
    expect(lines.filter((l) => l.msg === 'provider connects succeed again')).toHaveLength(1);
  });

  it('records a retryable failure too, and logs each change of failure once', () => {
    const { log, lines } = capturingLogger();
    const health = new ProviderHealth(log);
    expect([health.ok, health.error]).toEqual([true, '']);
    const busy = {
      kind: 'unavailable',
      fatal: false,
      code: 'upstream_unavailable',
      detail: 'http_429',
    } as const;
    health.record(false, busy);
    health.record(false, busy);
    expect([health.ok, health.error]).toEqual([false, 'unavailable']);
    health.record(false, {
      kind: 'auth_failed',
      fatal: true,
      code: 'upstream_auth_failed',
      detail: 'http_401',
    });
    expect(health.error).toBe('auth_failed');
    expect(lines.filter((l) => (l.level as number) >= 40).map((l) => l.failure)).toEqual([
      'unavailable',
      'auth_failed',
    ]);
  });
});

describe('the provider the worker resolves from its config', () => {
  /** A ProviderSession wired the way the worker wires it, from a resolved provider. */
  function sessionFor(p: ResolvedProvider): Harness {
    return harness(p.url, { model: p.model, apiKey: p.apiKey, auth: p.auth, shape: p.shape });
  }

  it('defaults to gpt-realtime in the GA shape, which the local engine serves', async () => {
    const config = loadWorkerConfig({ RTV_ENGINE_MODE: 'echo' });
    expect([config.OPENAI_REALTIME_MODEL, config.RTV_PROVIDER_SHAPE, config.RTV_PROVIDER]).toEqual([
      'gpt-realtime',
      'ga',
      'openai',
    ]);
    const p = await resolveProvider(config, silentLogger());
    cleanups.push(() => p.engine!.close());
    expect([p.kind, p.model, p.shape]).toEqual(['local-engine', 'gpt-realtime', 'ga']);
    expect(await sessionFor(p).session.open(false)).toBe(true);
  });

  it('RTV_PROVIDER_SHAPE=beta starts the local engine with the beta shape allowed; legacy auto means ga', async () => {
    const beta = await resolveProvider(
      loadWorkerConfig({ RTV_ENGINE_MODE: 'echo', RTV_PROVIDER_SHAPE: 'beta' }),
      silentLogger(),
    );
    cleanups.push(() => beta.engine!.close());
    expect(beta.shape).toBe('beta');
    expect(await sessionFor(beta).session.open(false)).toBe(true);

    const auto = await resolveProvider(
      loadWorkerConfig({ RTV_ENGINE_MODE: 'echo', RTV_PROVIDER_SHAPE: 'auto' }),
      silentLogger(),
    );
    cleanups.push(() => auto.engine!.close());
    expect(auto.shape).toBe('ga');
    // The GA engine refuses a beta-shaped client, fatally.
    expect((await connectFailure(auto.url, { shape: 'beta' })).failure.kind).toBe('shape_unsupported');
  });

  it('Azure with an api-key: the key goes in the api-key header, the deployment in the path and query', async () => {
    const provider = await startProvider();
    const port = new URL(provider.url).port;
    const config = loadWorkerConfig({
      RTV_PROVIDER: 'azure',
      AZURE_OPENAI_ENDPOINT: `http://127.0.0.1:${port}`,
      AZURE_OPENAI_DEPLOYMENT: 'voice-prod',
      AZURE_OPENAI_API_KEY: 'azure-key-123',
    });
    const p = await resolveProvider(config, silentLogger());
    expect([p.kind, p.url, p.model, p.engine]).toEqual([
      'azure',
      `ws://127.0.0.1:${port}/openai/v1/realtime`,
      'voice-prod',
      undefined,
    ]);
    expect(await sessionFor(p).session.open(false)).toBe(true);
    const [upgrade] = provider.upgrades;
    expect(upgrade!.url).toBe('/openai/v1/realtime?model=voice-prod');
    expect(upgrade!.headers['api-key']).toBe('azure-key-123');
    expect(upgrade!.headers.authorization).toBeUndefined();
    expect(upgrade!.headers['openai-beta']).toBeUndefined();
  });

  it('Azure with an Entra ID token file: read again at every connect and sent as a bearer', async () => {
    const { mkdtemp, rename, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'rtv-token-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'eyJ0eXAi.first-token.sig\n');
    const provider = await startProvider();
    const p = await resolveProvider(
      loadWorkerConfig({
        RTV_PROVIDER: 'azure',
        AZURE_OPENAI_ENDPOINT: `http://127.0.0.1:${new URL(provider.url).port}/`,
        AZURE_OPENAI_DEPLOYMENT: 'voice-prod',
        AZURE_OPENAI_AD_TOKEN_FILE: tokenFile,
      }),
      silentLogger(),
    );
    const h = sessionFor(p);
    expect(await h.session.open(false)).toBe(true);
    expect(provider.upgrades[0]!.headers.authorization).toBe('Bearer eyJ0eXAi.first-token.sig');
    expect(provider.upgrades[0]!.headers['api-key']).toBeUndefined();
    expect(provider.upgrades[0]!.url).toBe('/openai/v1/realtime?model=voice-prod');

    // The refresher replaces the token (atomically); the next connect (a reconnect here) sends the new one.
    await writeFile(`${tokenFile}.tmp`, 'eyJ0eXAi.second-token.sig');
    await rename(`${tokenFile}.tmp`, tokenFile);
    provider.drop(1);
    await provider.waitForConnections(2);
    expect(provider.upgrades[1]!.headers.authorization).toBe('Bearer eyJ0eXAi.second-token.sig');

    // A missing or empty file fails the connect clearly, as auth_failed, without reaching the provider.
    await rm(tokenFile);
    const missing = await connectFailureFor(p);
    expect(missing.failure).toMatchObject({ kind: 'auth_failed', fatal: true, detail: 'token_file_missing' });
    expect(missing.message).toContain(`token file ${tokenFile} does not exist`);
    await writeFile(tokenFile, '  \n');
    const empty = await connectFailureFor(p);
    expect(empty.failure).toMatchObject({ kind: 'auth_failed', detail: 'token_file_empty' });
    expect(provider.attempts).toBe(2);
  });
});

/** `connectFailure` with a resolved provider's credentials. */
async function connectFailureFor(
  p: ResolvedProvider,
): Promise<{ failure: ProviderFailure; message: string }> {
  const conn = new ProviderConnection(
    { url: p.url, model: p.model, apiKey: p.apiKey, auth: p.auth, shape: p.shape },
    { onEvent: () => undefined, onClose: () => undefined },
  );
  try {
    await conn.connect();
  } catch (err) {
    return { failure: (err as ProviderConnectError).failure, message: (err as Error).message };
  } finally {
    conn.close();
  }
  throw new Error('connect() resolved; a failure was expected');
}
