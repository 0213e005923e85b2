// The worker's provider pool against a real local engine (a handshake delay like the provider's session
// opening): filling, hits and misses, connections lost or expired while idle, recycling by age, closing, the
// connect gate, backoff on failures, and a ProviderSession taking a warm connection.

import { type LocalEngine, type LocalEngineOptions, startLocalEngine } from '@rtv/local-engine';
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { ConnectGate } from '../src/upstream/connect-gate.js';
import type { ProviderFailure } from '../src/upstream/provider-failure.js';
import {
  type PoolTarget,
  ProviderPool,
  type ProviderPoolOptions,
  sameTarget,
  type WarmConnection,
} from '../src/upstream/provider-pool.js';
import { ProviderSession, type ProviderSessionOptions } from '../src/upstream/provider-session.js';
import { freshRegistry, metricValue, silentLogger } from './helpers/fake-provider.js';

const engines: LocalEngine[] = [];
const pools: ProviderPool[] = [];
const sessions: ProviderSession[] = [];
const taken: WarmConnection[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const p of pools.splice(0)) p.close();
  for (const w of taken.splice(0)) w.conn.close();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function engine(opts: LocalEngineOptions = {}): Promise<LocalEngine> {
  const e = await startLocalEngine({ tts: 'synthetic', handshakeDelayMs: 100, ...opts });
  engines.push(e);
  return e;
}

const targetOf = (e: LocalEngine): PoolTarget => ({ url: e.url, model: 'gpt-realtime', shape: 'ga' });

interface PoolHarness {
  pool: ProviderPool;
  registry: Registry;
  gate: ConnectGate;
  outcomes: Array<{ ok: boolean; failure?: ProviderFailure | undefined }>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

function pool(target: PoolTarget, overrides: Partial<ProviderPoolOptions> = {}): PoolHarness {
  const registry = freshRegistry();
  const gate = overrides.connectGate ?? new ConnectGate(8);
  const outcomes: PoolHarness['outcomes'] = [];
  const p = new ProviderPool({
    target,
    size: 2,
    maxAgeMs: 60_000,
    connectGate: gate,
    metrics: createWorkerMetrics(registry),
    log: silentLogger(),
    onConnect: (ok, failure) => outcomes.push({ ok, failure }),
    retryBaseMs: 1000,
    ...overrides,
  });
  pools.push(p);
  return {
    pool: p,
    registry,
    gate,
    outcomes,
    metric: (name, labels) => metricValue(registry, name, labels),
  };
}

function take(p: ProviderPool, target: PoolTarget): WarmConnection | undefined {
  const warm = p.take(target);
  if (warm) taken.push(warm);
  return warm;
}

/** The provider session id a warm connection's `session.created` reported (the engine's connection id). */
const sessionIdOf = (warm: WarmConnection) =>
  (JSON.parse(warm.created) as { session: { id: string } }).session.id;

/** Records the engine's session ids as they open and close. */
function track(e: LocalEngine) {
  const opened: string[] = [];
  const closed: string[] = [];
  let upgrades = 0;
  e.events.on('connection', (id: string) => opened.push(id));
  e.events.on('disconnect', (id: string) => closed.push(id));
  e.events.on('handshake', () => upgrades++);
  return {
    opened,
    closed,
    /** Upgrades that have not become sessions (yet): handshakes in progress, for a delayed engine. */
    inFlight: () => upgrades - opened.length,
    upgrades: () => upgrades,
  };
}

describe('ProviderPool', () => {
  it('fills to its size with connections past session.created, and a take is a hit that is refilled', async () => {
    const e = await engine();
    const h = pool(targetOf(e));
    h.pool.start();
    await waitFor(() => h.pool.size === 2, { message: 'pool filled' });
    expect(e.connections()).toBe(2);
    expect(await h.metric('rtv_worker_provider_pool_size')).toBe(2);
    expect(await h.metric('rtv_worker_provider_pool_refills_total', { outcome: 'ok' })).toBe(2);
    expect(h.outcomes).toEqual([{ ok: true }, { ok: true }]);

    const warm = take(h.pool, targetOf(e));
    expect(warm?.conn.isOpen).toBe(true);
    expect(JSON.parse(warm!.created)).toMatchObject({ type: 'session.created' });
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(1);
    expect(h.pool.size).toBe(1);
    // The taken connection stays with its taker; the pool opens another in its place.
    await waitFor(() => h.pool.size === 2, { message: 'pool refilled' });
    expect(e.connections()).toBe(3);
    expect(await h.metric('rtv_worker_provider_pool_refills_total', { outcome: 'ok' })).toBe(3);
  });

  it('misses when nothing is warm yet, and for another url, model, shape or credential', async () => {
    const e = await engine({ handshakeDelayMs: 300 });
    const target = targetOf(e);
    const h = pool(target, { size: 1 });
    h.pool.start();
    expect(take(h.pool, target)).toBeUndefined();
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(1);
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    for (const other of [
      { ...target, model: 'gpt-realtime-mini' },
      { ...target, url: e.azureUrl },
      { ...target, shape: 'beta' as const },
      { ...target, apiKey: 'sk-other' },
      { ...target, auth: { type: 'api-key' as const, key: 'k' } },
    ]) {
      expect(take(h.pool, other)).toBeUndefined();
    }
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(6);
    expect(h.pool.size).toBe(1);
    expect(take(h.pool, { ...target })).toBeDefined();
  });

  it('never hands out a connection the provider closed while it was idle', async () => {
    const e = await engine();
    const seen = track(e);
    // A long retry base: the replacement of a lost connection waits, so the pool is short meanwhile.
    const h = pool(targetOf(e), { retryBaseMs: 60_000 });
    h.pool.start();
    await waitFor(() => h.pool.size === 2, { message: 'pool filled' });
    const [killed, survivor] = seen.opened;
    expect(e.drop(killed!)).toBe(true);
    await waitFor(() => h.pool.size === 1, { message: 'the pool to drop the dead connection' });
    const first = take(h.pool, targetOf(e));
    expect(first && sessionIdOf(first)).toBe(survivor);
    expect(take(h.pool, targetOf(e))).toBeUndefined();
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(1);
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(1);

    // Every warm connection killed at once: whatever a take returns afterwards is open and not one of them.
    const h2 = pool(targetOf(e));
    h2.pool.start();
    await waitFor(() => h2.pool.size === 2, { message: 'second pool filled' });
    const doomed = new Set(seen.opened.slice(-2));
    e.dropAll();
    await waitFor(() => [...doomed].every((id) => seen.closed.includes(id)), { message: 'engine closed' });
    for (let i = 0; i < 3; i++) {
      const warm = take(h2.pool, targetOf(e));
      if (warm) {
        expect(warm.conn.isOpen).toBe(true);
        expect(doomed.has(sessionIdOf(warm))).toBe(false);
      }
    }
  });

  it('drops a warm connection that gets an event while idle (the provider expiring it)', async () => {
    // The engine expires each session after 400 ms: an `error` session_expired event, then close 1001.
    const e = await engine({ handshakeDelayMs: 0, maxSessionMs: 400 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 1, retryBaseMs: 60_000 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const expired = seen.opened[0]!;
    await waitFor(() => seen.closed.includes(expired), { message: 'the engine to expire the session' });
    expect(h.pool.size).toBe(0);
    expect(take(h.pool, targetOf(e))).toBeUndefined();
    expect(await h.metric('rtv_worker_provider_pool_recycled_total')).toBe(0);
  });

  it('closes and replaces a warm connection at its maximum age', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 1, maxAgeMs: 300 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const first = seen.opened[0]!;
    await waitFor(async () => (await h.metric('rtv_worker_provider_pool_recycled_total')) >= 1, {
      message: 'a recycle',
    });
    await waitFor(() => seen.closed.includes(first), { message: 'the old connection closed' });
    await waitFor(() => h.pool.size === 1 && seen.opened.length >= 2, { message: 'a replacement' });
    const warm = take(h.pool, targetOf(e));
    expect(warm && sessionIdOf(warm)).not.toBe(first);
  });

  it('close() closes every warm connection and the one being opened, and opens no more', async () => {
    const e = await engine({ handshakeDelayMs: 300 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 3 });
    h.pool.start();
    await waitFor(() => h.pool.size >= 1 && seen.inFlight() === 1, { message: 'one warm, one opening' });
    const opened = seen.opened.length;
    h.pool.close();
    expect(h.pool.size).toBe(0);
    expect(await h.metric('rtv_worker_provider_pool_size')).toBe(0);
    await waitFor(() => e.connections() === 0, { message: 'no open sessions' });
    const upgrades = seen.upgrades();
    // Past the handshake delay: a socket still open would have become a session by now.
    await new Promise((r) => setTimeout(r, 800));
    expect(seen.opened.length).toBe(opened);
    expect(seen.upgrades()).toBe(upgrades);
    expect(e.connections()).toBe(0);
    expect(take(h.pool, targetOf(e))).toBeUndefined();
  });

  it('refills through the connect gate, one at a time, and never while a client connect waits', async () => {
    const e = await engine({ handshakeDelayMs: 150 });
    const seen = track(e);
    const gate = new ConnectGate(2);
    // Two client connects hold both slots and a third waits: the gate is saturated.
    const releases: Array<() => void> = [];
    const hold = () => gate.run(() => new Promise<void>((resolve) => releases.push(resolve)));
    const holders = [hold(), hold()];
    let waiterRanFirst: boolean | undefined;
    e.events.once('handshake', () => {
      waiterRanFirst ??= false;
    });
    const waiter = gate.run(async () => {
      waiterRanFirst ??= true;
    });
    expect(gate.load).toEqual({ active: 2, waiting: 1 });
    const h = pool(targetOf(e), { size: 3, connectGate: gate, busyRecheckMs: 50 });
    h.pool.start();
    await new Promise((r) => setTimeout(r, 400));
    // The pool neither queued behind the client connects nor opened a socket around the gate.
    expect(gate.load).toEqual({ active: 2, waiting: 1 });
    expect(seen.upgrades()).toBe(0);
    for (const release of releases) release();
    await Promise.all([...holders, waiter]);
    // The waiting client connect got the freed slot before any refill.
    expect(waiterRanFirst).toBe(true);
    let peakInFlight = 0;
    let peakActive = 0;
    const sampler = setInterval(() => {
      peakInFlight = Math.max(peakInFlight, seen.inFlight());
      peakActive = Math.max(peakActive, gate.load.active);
    }, 5);
    try {
      await waitFor(() => h.pool.size === 3, { message: 'pool filled', timeoutMs: 10_000 });
    } finally {
      clearInterval(sampler);
    }
    expect(peakInFlight).toBe(1);
    expect(peakActive).toBe(1);
    expect(gate.load).toEqual({ active: 0, waiting: 0 });
  });

  it('backs off while the provider is unreachable, reports the failures, and fills once it is back', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const port = e.port;
    await e.close();
    const h = pool(targetOf(e), { size: 2, retryBaseMs: 200, retryCapMs: 400 });
    const started = performance.now();
    h.pool.start();
    await waitFor(
      async () => (await h.metric('rtv_worker_provider_pool_refills_total', { outcome: 'failed' })) >= 2,
      {
        message: 'two failed refills',
      },
    );
    const failed = await h.metric('rtv_worker_provider_pool_refills_total', { outcome: 'failed' });
    const elapsed = performance.now() - started;
    // At least retryBaseMs between two attempts: never more attempts than the elapsed time allows.
    expect(failed).toBeLessThanOrEqual(Math.floor(elapsed / 200) + 1);
    expect(h.outcomes[0]).toMatchObject({ ok: false, failure: { kind: 'unavailable', fatal: false } });
    const back = await engine({ handshakeDelayMs: 0, port });
    await waitFor(() => h.pool.size === 2, { message: 'pool filled after the outage', timeoutMs: 10_000 });
    expect(back.connections()).toBe(2);
    expect(h.outcomes.at(-1)).toEqual({ ok: true });
  });

  it('waits the longest delay after a fatal refusal', async () => {
    const e = await engine({ handshakeDelayMs: 0, apiKey: 'sk-right' });
    const h = pool({ ...targetOf(e), apiKey: 'sk-wrong' }, { retryBaseMs: 10, retryCapMs: 60_000 });
    h.pool.start();
    await waitFor(() => h.outcomes.length >= 1, { message: 'a refused refill' });
    expect(h.outcomes[0]).toMatchObject({ ok: false, failure: { kind: 'auth_failed', fatal: true } });
    await new Promise((r) => setTimeout(r, 500));
    // With a 10 ms base a retryable failure would have been retried many times by now.
    expect(await h.metric('rtv_worker_provider_pool_refills_total', { outcome: 'failed' })).toBe(1);
  });

  it('sameTarget compares url, model, shape and the credential', () => {
    const a: PoolTarget = { url: 'wss://x/v1/realtime', model: 'm', shape: 'ga', apiKey: 'k' };
    expect(sameTarget(a, { ...a })).toBe(true);
    expect(sameTarget(a, { ...a, apiKey: undefined })).toBe(false);
    const file = { ...a, apiKey: undefined, auth: { type: 'bearer-file' as const, path: '/t' } };
    expect(sameTarget(file, { ...file, auth: { type: 'bearer-file', path: '/t' } })).toBe(true);
    expect(sameTarget(file, { ...file, auth: { type: 'bearer-file', path: '/u' } })).toBe(false);
    expect(sameTarget(file, { ...file, auth: { type: 'bearer', key: '/t' } })).toBe(false);
  });
});

const config: SessionConfig = { ...DEFAULT_SESSION_CONFIG, instructions: 'Be brief.' };

interface SessionHarness {
  session: ProviderSession;
  /** Provider event types handed to `onEvent`, in order. */
  events: string[];
  created: string[];
  registry: Registry;
}

function providerSession(
  e: LocalEngine,
  source: ProviderPool | undefined,
  overrides: Partial<ProviderSessionOptions> = {},
): SessionHarness {
  const registry = freshRegistry();
  const h: SessionHarness = { events: [], created: [], registry, session: undefined as never };
  h.session = new ProviderSession({
    ...targetOf(e),
    log: silentLogger(),
    metrics: createWorkerMetrics(registry),
    onEvent: (raw) => h.events.push((JSON.parse(raw.toString()) as { type: string }).type),
    onSessionCreated: (raw) => h.created.push(raw.toString()),
    onReconnecting: () => h.events.push('(reconnecting)'),
    onUnavailable: () => h.events.push('(unavailable)'),
    context: async () => ({ config, history: [] }),
    startedAt: performance.now(),
    ...(source ? { pool: source } : {}),
    ...overrides,
  });
  sessions.push(h.session);
  return h;
}

describe('ProviderSession with the pool', () => {
  it('takes a warm connection, applies its own session.update first, and sees what a fresh one shows', async () => {
    const e = await engine({ handshakeDelayMs: 200 });
    const seen = track(e);
    const clientEvents: Array<[string, string]> = [];
    e.events.on('client-event', (id: string, event: { type: string }) => clientEvents.push([id, event.type]));
    const h = pool(targetOf(e), { size: 1 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const warmId = seen.opened[0]!;

    const s = providerSession(e, h.pool);
    s.session.send(JSON.stringify({ type: 'response.create' }));
    expect(await s.session.open(false)).toBe(true);
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(1);
    expect(s.created).toHaveLength(1);
    expect(JSON.parse(s.created[0]!)).toMatchObject({ type: 'session.created', session: { id: warmId } });
    await waitFor(() => s.events.includes('response.done'), { message: 'the response' });
    // On the warm connection: the session's update, then what it queued while opening.
    expect(clientEvents.filter(([id]) => id === warmId).map(([, type]) => type)).toEqual([
      'session.update',
      'response.create',
    ]);
    // The same events a fresh connection gives: nothing from before the take, no notice of any loss.
    expect(s.events[0]).toBe('session.updated');
    expect(s.events).not.toContain('session.created');
    expect(s.events).not.toContain('(reconnecting)');
    const ready = await metricFamily(s.registry, 'rtv_worker_provider_ready_seconds');
    expect(ready).toEqual({ true: 1 });
  });

  it('connects as usual on a miss (another model), and reports ready as not pooled', async () => {
    const e = await engine({ handshakeDelayMs: 100 });
    const h = pool(targetOf(e), { size: 1 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const s = providerSession(e, h.pool, { model: 'gpt-realtime-mini' });
    expect(await s.session.open(false)).toBe(true);
    expect(h.pool.size).toBe(1);
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(1);
    expect(await metricFamily(s.registry, 'rtv_worker_provider_ready_seconds')).toEqual({ false: 1 });
    expect(JSON.parse(s.created[0]!)).toMatchObject({ session: { model: 'gpt-realtime-mini' } });
  });

  it('two sessions never share a warm connection, and a closed session does not give its connection back', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 2 });
    h.pool.start();
    await waitFor(() => h.pool.size === 2, { message: 'pool filled' });
    const a = providerSession(e, h.pool);
    const b = providerSession(e, h.pool);
    await Promise.all([a.session.open(false), b.session.open(false)]);
    const idA = (JSON.parse(a.created[0]!) as { session: { id: string } }).session.id;
    const idB = (JSON.parse(b.created[0]!) as { session: { id: string } }).session.id;
    expect(idA).not.toBe(idB);
    a.session.close();
    await waitFor(() => seen.closed.includes(idA), { message: 'the first session closed its connection' });
    await waitFor(() => h.pool.size === 2, { message: 'pool refilled' });
    const c = providerSession(e, h.pool);
    await c.session.open(false);
    const idC = (JSON.parse(c.created[0]!) as { session: { id: string } }).session.id;
    expect([idA, idB]).not.toContain(idC);
  });

  it('notices a warm connection lost while the session read its context, and reconnects', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 1, retryBaseMs: 60_000 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const warmId = seen.opened[0]!;
    let contextRead!: () => void;
    const readable = new Promise<void>((resolve) => (contextRead = resolve));
    const s = providerSession(e, h.pool, {
      // The context takes a while (a history read): the provider drops the taken connection meanwhile.
      context: async () => {
        await readable;
        return { config, history: [] };
      },
    });
    const opened = s.session.open(false);
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(1);
    expect(e.drop(warmId)).toBe(true);
    await waitFor(() => seen.closed.includes(warmId), { message: 'the warm connection dropped' });
    await new Promise((r) => setTimeout(r, 50));
    contextRead();
    expect(await opened).toBe(true);
    await waitFor(() => s.events.includes('(reconnecting)'), { message: 'the loss noticed' });
    await waitFor(() => seen.opened.length >= 2 && e.connections() === 1, {
      message: 'a new provider session',
    });
    await waitFor(
      async () =>
        (await metricValue(s.registry, 'rtv_worker_upstream_reconnects_total', { result: 'ok' })) === 1,
      {
        message: 'reconnected',
      },
    );
  });

  it('closes a taken connection when the session ends while it reads its context', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const seen = track(e);
    const h = pool(targetOf(e), { size: 1, retryBaseMs: 60_000 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    const warmId = seen.opened[0]!;
    let contextRead!: () => void;
    const readable = new Promise<void>((resolve) => (contextRead = resolve));
    const s = providerSession(e, h.pool, {
      context: async () => {
        await readable;
        return { config, history: [] };
      },
    });
    const opened = s.session.open(false);
    s.session.close();
    contextRead();
    expect(await opened).toBe(false);
    await waitFor(() => seen.closed.includes(warmId), { message: 'the taken connection closed' });
  });

  it('renews a warm connection counting from the provider session opening, not from the take', async () => {
    const e = await engine({ handshakeDelayMs: 0 });
    const seen = track(e);
    const renewAfterMs = 2500;
    const h = pool(targetOf(e), { size: 1 });
    h.pool.start();
    await waitFor(() => h.pool.size === 1, { message: 'pool filled' });
    // Older than the renewal time: a session counting from its take would renew renewAfterMs later.
    await new Promise((r) => setTimeout(r, renewAfterMs + 100));
    const s = providerSession(e, h.pool, { renewAfterMs });
    const takenAt = performance.now();
    expect(await s.session.open(false)).toBe(true);
    expect(await h.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(1);
    const warmId = (JSON.parse(s.created[0]!) as { session: { id: string } }).session.id;
    await waitFor(
      async () =>
        (await metricValue(s.registry, 'rtv_worker_upstream_renewals_total', { result: 'ok' })) === 1,
      { message: 'renewal', timeoutMs: 10_000 },
    );
    // Counting from the take, the renewal timer could not have fired before renewAfterMs.
    expect(performance.now() - takenAt).toBeLessThan(renewAfterMs);
    await waitFor(() => seen.closed.includes(warmId), { message: 'the renewed connection closed' });
    expect(s.events).not.toContain('(reconnecting)');
  });
});

describe('worker config of the pool', () => {
  it('defaults to 2 warm connections for 600 s and no engine handshake delay', () => {
    const config = loadWorkerConfig({});
    expect(config.RTV_PROVIDER_POOL_SIZE).toBe(2);
    expect(config.RTV_PROVIDER_POOL_MAX_AGE_S).toBe(600);
    expect(config.RTV_LOCAL_ENGINE_HANDSHAKE_MS).toBe(0);
    expect(loadWorkerConfig({ RTV_PROVIDER_POOL_SIZE: '0' }).RTV_PROVIDER_POOL_SIZE).toBe(0);
  });

  it.each([
    ['RTV_PROVIDER_POOL_SIZE', '-1', 'RTV_PROVIDER_POOL_SIZE="-1": must be >= 0'],
    ['RTV_PROVIDER_POOL_SIZE', 'two', 'RTV_PROVIDER_POOL_SIZE="two": expected an integer'],
    ['RTV_PROVIDER_POOL_SIZE', '1001', 'RTV_PROVIDER_POOL_SIZE="1001": must be <= 1000'],
    ['RTV_PROVIDER_POOL_MAX_AGE_S', '5', 'RTV_PROVIDER_POOL_MAX_AGE_S="5": must be >= 10'],
    ['RTV_PROVIDER_POOL_MAX_AGE_S', '3600', 'RTV_PROVIDER_POOL_MAX_AGE_S="3600": must be <= 1800'],
    ['RTV_LOCAL_ENGINE_HANDSHAKE_MS', '-5', 'RTV_LOCAL_ENGINE_HANDSHAKE_MS="-5": must be >= 0'],
  ])('refuses %s=%s and names it', (name, value, message) => {
    expect(() => loadWorkerConfig({ [name]: value })).toThrow(message);
  });
});

/** Observation counts of a histogram by its `pooled` label. */
async function metricFamily(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const counts: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    if ((v as { metricName?: string }).metricName === `${name}_count`)
      counts[String(v.labels.pooled)] = v.value;
  }
  return counts;
}
