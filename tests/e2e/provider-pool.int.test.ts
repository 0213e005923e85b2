// The provider pool end to end: a gateway and a session worker as real processes on a real Redis, the worker's own
// local engine taking 300 ms to open a provider session (RTV_LOCAL_ENGINE_HANDSHAKE_MS), with the pool on (2) and
// off (0). Sessions that take a warm connection get their turns right, see exactly the events a fresh connection
// gives, and never share a provider session; the worker's /metrics counts the hits. Time to a ready provider
// session with and without the pool is printed for the report, not asserted.
import { hashApiKey } from '@rtv/auth';
import { replyToText } from '@rtv/local-engine';
import {
  createTestRedis,
  freePort,
  type SpawnedService,
  spawnService,
  type TestRedis,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Msg = { type: string; [k: string]: unknown };

const HANDSHAKE_MS = 300;
const API_KEY = 'rtv_pool_test_key_0123456789abcdef';
const NAME = 'My name is Ada.';

interface PoolStack {
  gatewayPort: number;
  workerAdmin: number;
  /** The worker's /metrics text. */
  metrics(): Promise<string>;
  /** A sample of the worker's /metrics: the value of `name` with exactly these labels, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

async function startPoolStack(poolSize: number): Promise<PoolStack> {
  const redis: TestRedis = await createTestRedis('pool');
  const services: SpawnedService[] = [];
  const [workerAdmin, gatewayPort, gatewayAdmin] = await Promise.all([freePort(), freePort(), freePort()]);
  const common = { REDIS_URL: redis.url, RTV_REDIS_PREFIX: redis.prefix, RTV_LOG_LEVEL: 'warn' };
  try {
    services.push(
      await spawnService(
        'services/session-worker/src/main.ts',
        {
          ...common,
          // No key: the worker starts its own local engine, slowed like the provider's session opening.
          OPENAI_API_KEY: '',
          RTV_LOCAL_ENGINE_HANDSHAKE_MS: String(HANDSHAKE_MS),
          RTV_PROVIDER_POOL_SIZE: String(poolSize),
          RTV_WORKER_ADMIN_PORT: String(workerAdmin),
        },
        { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`, timeoutMs: 60_000 },
      ),
    );
    services.push(
      await spawnService(
        'services/gateway/src/main.ts',
        {
          ...common,
          RTV_GATEWAY_PORT: String(gatewayPort),
          RTV_GATEWAY_ADMIN_PORT: String(gatewayAdmin),
          RTV_ALLOW_ANONYMOUS: 'true',
          RTV_AUTH_API_KEYS: `app:${hashApiKey(API_KEY)}`,
        },
        { readyUrl: `http://127.0.0.1:${gatewayAdmin}/readyz`, timeoutMs: 60_000 },
      ),
    );
  } catch (err) {
    for (const s of services.reverse()) await s.stop('SIGKILL');
    await redis.cleanup();
    throw err;
  }
  const metrics = async () => (await fetch(`http://127.0.0.1:${workerAdmin}/metrics`)).text();
  return {
    gatewayPort,
    workerAdmin,
    metrics,
    metric: async (name, labels = {}) => sampleOf(await metrics(), name, labels),
    stop: async () => {
      for (const s of services.reverse()) await s.stop('SIGTERM', 15_000);
      await redis.cleanup();
    },
  };
}

/** The value of one sample in Prometheus text: `name{labels}` with exactly these labels (0 when absent). */
function sampleOf(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const wanted = Object.entries(labels);
    // Constant labels (service, version) may be on every sample: only the asked ones must match.
    if (wanted.every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

/** The text of every `response.delta` after message `from`, joined. */
function replyText(messages: readonly unknown[], from = 0): string {
  return (messages.slice(from) as Msg[])
    .filter((m) => m.type === 'response.delta')
    .map((m) => (m.response as { delta: { content: string } }).delta.content)
    .join('');
}

/** Message types in order, runs of one type collapsed (audio chunking is not what is compared). */
function typeSequence(messages: readonly unknown[]): string[] {
  const types: string[] = [];
  for (const m of messages as Msg[]) if (types.at(-1) !== m.type) types.push(m.type);
  return types;
}

/** One seed-route session: a text turn sent at once (timed to its first reply text), then a memory question. */
async function seedSession(stack: PoolStack, user: string, first: string) {
  const connectedAt = performance.now();
  const ws = await WsTestClient.connect(
    `ws://127.0.0.1:${stack.gatewayPort}/api/v1/streaming/realtime/${user}`,
  );
  await ws.nextOfType('session.created', 10_000);
  ws.send({ type: 'conversation.item.input', conversation_item_input: { type: 'input_text', text: first } });
  await ws.nextOfType('response.delta', 15_000);
  const firstReplyMs = performance.now() - connectedAt;
  await ws.nextOfType('response.done', 15_000);
  const firstReply = replyText(ws.all());
  const mark = ws.all().length;
  ws.send({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text: 'What did I say?' },
  });
  await ws.nextOfType('response.done', 15_000);
  const recall = replyText(ws.all(), mark);
  const types = typeSequence(ws.all());
  await ws.close();
  return { firstReply, recall, types, firstReplyMs };
}

/** One OpenAI-compatible session: its provider session.created, a session.update and a text turn. */
async function compatSession(stack: PoolStack, model: string) {
  const ws = await WsTestClient.connect(`ws://127.0.0.1:${stack.gatewayPort}/v1/realtime?model=${model}`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  const created = await ws.nextOfType<{ session: { id: string; model: string } }>('session.created', 10_000);
  ws.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } });
  await ws.nextOfType('session.updated', 10_000);
  ws.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
  });
  ws.send({ type: 'response.create' });
  await ws.nextOfType('response.done', 15_000);
  const types = typeSequence(ws.all());
  await ws.close();
  return { session: created.session, types };
}

/** Mean of `rtv_worker_provider_ready_seconds{pooled}` in ms, or null without observations. */
async function meanReadyMs(stack: PoolStack, pooled: 'true' | 'false'): Promise<number | null> {
  const text = await stack.metrics();
  const count = sampleOf(text, 'rtv_worker_provider_ready_seconds_count', { pooled });
  if (count === 0) return null;
  return Math.round((sampleOf(text, 'rtv_worker_provider_ready_seconds_sum', { pooled }) / count) * 1000);
}

const report: Record<string, unknown> = {};
/** What the pool-off worker's sessions showed the clients, to compare with the pooled ones. */
const unpooled: { seed?: string[]; compat?: string[] } = {};

describe('provider pool off (RTV_PROVIDER_POOL_SIZE=0)', () => {
  let stack: PoolStack;
  beforeAll(async () => {
    stack = await startPoolStack(0);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('connects every session itself: no warm connection, no hit', async () => {
    const a = await seedSession(stack, 'off_a', NAME);
    expect(a.firstReply).toBe(replyToText(NAME));
    expect(a.recall).toBe(`Earlier you said: "${NAME}"`);
    const compat = await compatSession(stack, 'gpt-realtime');
    unpooled.seed = a.types;
    unpooled.compat = compat.types;
    expect(await stack.metric('rtv_worker_provider_pool_size')).toBe(0);
    expect(await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(0);
    expect(await stack.metric('rtv_worker_provider_pool_refills_total', { outcome: 'ok' })).toBe(0);
    expect(await stack.metric('rtv_worker_provider_ready_seconds_count', { pooled: 'false' })).toBe(2);
    report.off = { firstReplyMs: Math.round(a.firstReplyMs), meanReadyMs: await meanReadyMs(stack, 'false') };
  }, 90_000);
});

describe('provider pool on (RTV_PROVIDER_POOL_SIZE=2)', () => {
  let stack: PoolStack;
  const warm = async () =>
    waitFor(async () => (await stack.metric('rtv_worker_provider_pool_size')) === 2, {
      message: 'two warm provider connections',
      timeoutMs: 15_000,
    });
  beforeAll(async () => {
    stack = await startPoolStack(2);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    console.log(`provider pool time-to-ready (handshake ${HANDSHAKE_MS} ms): ${JSON.stringify(report)}`);
  });

  it('gives two consecutive sessions warm connections, each with its own conversation and right turns', async () => {
    await warm();
    const a = await seedSession(stack, 'pool_a', NAME);
    expect(a.firstReply).toBe(replyToText(NAME));
    expect(a.recall).toBe(`Earlier you said: "${NAME}"`);
    await warm();
    // The second user's provider session has not heard the first user: a connection is never handed on.
    const b = await seedSession(stack, 'pool_b', 'What did I say?');
    expect(b.firstReply).toBe('You have not said anything before this.');
    expect(await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(2);
    expect(await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(0);
    expect(await stack.metric('rtv_worker_provider_ready_seconds_count', { pooled: 'true' })).toBe(2);
    // A taken connection is replaced: the pool is full again, and every refill went through.
    await warm();
    expect(await stack.metric('rtv_worker_provider_pool_refills_total', { outcome: 'ok' })).toBe(4);
    // The client sees what a fresh provider connection shows it (same script as on the pool-off worker).
    expect(a.types).toEqual(unpooled.seed);
    report.on = { firstReplyMs: Math.round(a.firstReplyMs), meanReadyMs: await meanReadyMs(stack, 'true') };
  }, 90_000);

  it('serves the OpenAI-compatible route from the pool for the default model only', async () => {
    await warm();
    const hits = await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' });
    const first = await compatSession(stack, 'gpt-realtime');
    await warm();
    const second = await compatSession(stack, 'gpt-realtime');
    expect(await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'hit' })).toBe(hits + 2);
    // Two provider sessions, one per client; the provider's own session.created reaches each, as without a pool.
    expect(first.session.id).not.toBe(second.session.id);
    expect(first.types).toEqual(unpooled.compat);
    // Another model is not what the warm connections were opened for: a miss, and a connect of its own.
    const mini = await compatSession(stack, 'gpt-realtime-mini');
    expect(mini.session.model).toBe('gpt-realtime-mini');
    expect(await stack.metric('rtv_worker_provider_pool_takes_total', { outcome: 'miss' })).toBe(1);
    expect(await stack.metric('rtv_worker_provider_ready_seconds_count', { pooled: 'false' })).toBe(1);
  }, 90_000);
});
