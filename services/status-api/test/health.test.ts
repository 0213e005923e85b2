// The health verdict and the read cache, on hand-made snapshots (no Redis: these are pure functions of the
// snapshot and of time).
import { describe, expect, it } from 'vitest';
import { evaluateHealth } from '../src/cluster/health.js';
import type { ClusterSnapshot, GatewayView, WorkerView } from '../src/cluster/read-cluster.js';
import { SnapshotCache } from '../src/cluster/snapshot-cache.js';

const gateway = (id: string, extra: Partial<GatewayView> = {}): GatewayView => ({
  id,
  draining: false,
  version: '0.1.0',
  heartbeat_age_seconds: 0.5,
  stream: null,
  connections: 0,
  port: 8000,
  ...extra,
});

const worker = (id: string, extra: Partial<WorkerView> = {}): WorkerView => ({
  id,
  draining: false,
  version: '0.1.0',
  heartbeat_age_seconds: 0.5,
  stream: null,
  sessions: 0,
  capacity: 4,
  provider: 'openai',
  provider_ok: null,
  ...extra,
});

function snapshot(gateways: GatewayView[], workers: WorkerView[]): ClusterSnapshot {
  return {
    read_at_ms: 0,
    read_duration_seconds: 0.001,
    gateways,
    workers,
    stale: { gateways: [], workers: [] },
    connections: 0,
    sessions: workers.reduce((n, w) => n + w.sessions, 0),
    capacity: workers.reduce((n, w) => n + w.capacity, 0),
    free_capacity: workers.reduce((n, w) => n + (w.draining ? 0 : Math.max(0, w.capacity - w.sessions)), 0),
    queue: { waiting: 0, active: 0, delayed: 0, prioritized: 0, paused: 0, failed: 0, stalled: 0 },
  };
}

describe('evaluateHealth', () => {
  it('is healthy with a ready gateway, a ready worker with a free slot and a reachable provider', () => {
    const health = evaluateHealth(snapshot([gateway('gw-a')], [worker('wk-a', { provider_ok: true })]));
    expect(health.healthy).toBe(true);
    expect(health.failing).toEqual([]);
    expect(health.components.provider.status).toBe('ok');
  });

  it.each([
    ['no gateway', [], [worker('wk-a')], ['gateway']],
    ['only draining gateways', [gateway('gw-a', { draining: true })], [worker('wk-a')], ['gateway']],
    ['no worker', [gateway('gw-a')], [], ['session_worker']],
    ['only draining workers', [gateway('gw-a')], [worker('wk-a', { draining: true })], ['session_worker']],
    ['every slot in use', [gateway('gw-a')], [worker('wk-a', { sessions: 4 })], ['capacity']],
    [
      'no worker reaches the provider',
      [gateway('gw-a')],
      [worker('wk-a', { provider_ok: false }), worker('wk-b', { provider_ok: false })],
      ['provider'],
    ],
    ['an empty cluster', [], [], ['gateway', 'session_worker']],
  ] as const)('names the failing component with %s', (_name, gateways, workers, failing) => {
    const health = evaluateHealth(snapshot([...gateways], [...workers]));
    expect(health.healthy).toBe(false);
    expect(health.failing).toEqual(failing);
    for (const c of failing) expect(health.components[c].message.length).toBeGreaterThan(5);
  });

  it('needs one worker that reaches the provider, and judges it only where workers report it', () => {
    const mixed = evaluateHealth(
      snapshot(
        [gateway('gw-a')],
        [worker('wk-a', { provider_ok: false }), worker('wk-b', { provider_ok: true })],
      ),
    );
    expect(mixed.components.provider.status).toBe('ok');
    const silent = evaluateHealth(snapshot([gateway('gw-a')], [worker('wk-a')]));
    expect(silent.components.provider.status).toBe('unknown');
    expect(silent.healthy).toBe(true);
    // A draining worker's view of the provider does not count: it takes no new session.
    const draining = evaluateHealth(
      snapshot(
        [gateway('gw-a')],
        [worker('wk-a', { provider_ok: false }), worker('wk-b', { provider_ok: true, draining: true })],
      ),
    );
    expect(draining.failing).toEqual(['provider']);
  });

  it('reports Redis, and nothing it cannot judge, when there is no snapshot', () => {
    const health = evaluateHealth(undefined);
    expect(health.failing).toEqual(['redis']);
    expect(health.components.gateway.status).toBe('unknown');
    expect(health.components.capacity.status).toBe('unknown');
  });
});

describe('SnapshotCache', () => {
  function counter(fail = false) {
    let reads = 0;
    let release: (() => void) | undefined;
    const read = () => {
      reads++;
      return new Promise<number>((resolve, reject) => {
        release = () => (fail ? reject(new Error('down')) : resolve(reads));
      });
    };
    return { read, reads: () => reads, release: () => release?.() };
  }

  it('shares one read among callers that arrive while it is in flight', async () => {
    const c = counter();
    const cache = new SnapshotCache({ read: c.read, maxAgeMs: 0 });
    const all = Promise.all([cache.get(), cache.get(), cache.get()]);
    c.release();
    expect(await all).toEqual([1, 1, 1]);
    expect(c.reads()).toBe(1);
  });

  it('reuses a finished read for maxAgeMs, then reads again', async () => {
    let now = 1000;
    const c = counter();
    const cache = new SnapshotCache({ read: c.read, maxAgeMs: 500, now: () => now });
    const first = cache.get();
    c.release();
    await first;
    now += 500;
    expect(await cache.get()).toBe(1);
    now += 1;
    const third = cache.get();
    c.release();
    expect(await third).toBe(2);
  });

  it('does not cache a failure, and reports it as undefined to callers that want data', async () => {
    const c = counter(true);
    const cache = new SnapshotCache({ read: c.read, maxAgeMs: 60_000 });
    const first = cache.getOrUndefined();
    c.release();
    expect(await first).toBeUndefined();
    const second = cache.get();
    c.release();
    await expect(second).rejects.toThrow('down');
    expect(c.reads()).toBe(2);
  });

  it('fails a read that outlives the timeout', async () => {
    const cache = new SnapshotCache({ read: () => new Promise<number>(() => {}), timeoutMs: 20 });
    await expect(cache.get()).rejects.toThrow(/timed out after 20 ms/);
  });
});
