// Provider outages (issue #16): the provider goes away while six sessions stream numbered audio, and comes back
// on the same port 2 s, then 10 s later. The worker retries on a time budget (`RTV_PROVIDER_RETRY_BUDGET_S`,
// default 30 s) instead of a count of attempts: no client socket closes, each client is told
// `upstream_reconnecting` then `upstream_recovered`, echoes resume, and the new provider session gets the turn
// in progress (the echo engine never commits, so every frame is part of it) followed by what was sent meanwhile.
// With a 2 s budget and the provider gone for good, the client gets `upstream_unavailable` and close 1011.
import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import { freePort, WsTestClient, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import {
  audioMessage,
  contiguous,
  echoedFrames,
  noticeCodes,
  numberedFrame,
  recordUpstream,
} from './helpers.js';

const SESSIONS = 6;
/** Session i numbers its frames from (i + 1) · FRAME_BASE, so any provider connection's frames name their session. */
const FRAME_BASE = 100_000;

/** The provider key the stack's workers present (`startStack` uses it for its own engine too). */
const PROVIDER_KEY = 'test-provider-key';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A provider (the local engine in echo mode) that can be stopped and started again on the same port. */
class RestartableProvider {
  engine: LocalEngine | undefined;
  /** Upstream frame numbers per provider connection, one map per run of the engine. */
  readonly runs: Array<Map<string, number[]>> = [];

  private constructor(
    readonly port: number,
    private readonly apiKey: string,
  ) {}

  static async start(apiKey: string): Promise<RestartableProvider> {
    const provider = new RestartableProvider(await freePort(), apiKey);
    await provider.up();
    return provider;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/realtime`;
  }

  async up(): Promise<void> {
    this.engine = await startLocalEngine({ mode: 'echo', pace: false, apiKey: this.apiKey, port: this.port });
    this.runs.push(recordUpstream(this.engine.events));
  }

  /** The provider dies: every socket dropped, the port refuses connections. */
  async down(): Promise<void> {
    await this.engine?.close();
    this.engine = undefined;
  }
}

interface Streamer {
  ws: WsTestClient;
  base: number;
  /** Frames sent so far (numbered base + 1 … base + sent). */
  sent: number;
}

let stack: Stack | undefined;
let provider: RestartableProvider | undefined;

afterEach(async () => {
  await provider?.down();
  await stack?.stop();
  stack = undefined;
  provider = undefined;
});

async function openStreamers(s: Stack, prefix: string): Promise<Streamer[]> {
  return Promise.all(
    Array.from({ length: SESSIONS }, async (_, i) => {
      const ws = await WsTestClient.connect(s.wsUrl(`${prefix}_${i}`));
      await ws.nextOfType('session.created');
      return { ws, base: (i + 1) * FRAME_BASE, sent: 0 };
    }),
  );
}

/** Every streamer sends one 20 ms frame every 20 ms until `until()` is true. */
async function stream(streamers: Streamer[], until: () => boolean): Promise<void> {
  while (!until()) {
    for (const st of streamers) st.ws.send(audioMessage(numberedFrame(st.base + ++st.sent)));
    await sleep(20);
  }
}

function isError(m: unknown): boolean {
  return (m as { type?: string }).type === 'error';
}

async function isOpen(ws: WsTestClient): Promise<boolean> {
  const state = await Promise.race([ws.closed.then(() => 'closed'), sleep(100).then(() => 'open')]);
  return state === 'open';
}

/** The provider outage scenario: stream, kill the provider for `outageMs`, bring it back, stream on. */
async function outage(outageMs: number, prefix: string): Promise<void> {
  const p = await RestartableProvider.start(PROVIDER_KEY);
  provider = p;
  // The stack's own engine stays unused: the workers talk to the restartable provider.
  stack = await startStack({ workerEnv: { OPENAI_REALTIME_URL: p.url } });
  expect(stack.providerKey).toBe(PROVIDER_KEY);
  const streamers = await openStreamers(stack, prefix);

  let stopAt = Number.POSITIVE_INFINITY;
  const sending = stream(streamers, () => streamers[0]!.sent >= stopAt);
  await waitFor(() => streamers.every((st) => echoedFrames(st.ws).includes(st.base + 25)), {
    timeoutMs: 10_000,
    message: 'echoes before the outage',
  });
  await p.down();
  const sentBeforeKill = streamers.map((st) => st.sent);
  await sleep(outageMs);
  await p.up();
  // Stream another second after the provider is back, then stop.
  await waitFor(() => streamers.every((st) => noticeCodes(st.ws).includes('upstream_recovered')), {
    timeoutMs: 15_000,
    message: 'every client told upstream_recovered',
  });
  stopAt = streamers[0]!.sent + 50;
  await sending;

  for (const [i, st] of streamers.entries()) {
    const last = st.base + st.sent;
    // Echoes resume, up to the last frame sent.
    await waitFor(() => echoedFrames(st.ws).includes(last), {
      timeoutMs: 15_000,
      message: `session ${i}: last frame echoed`,
    });
    // Told once that the provider was lost, then that it is back, in that order.
    const notices = noticeCodes(st.ws).filter((c) => c.startsWith('upstream_'));
    expect(notices).toEqual(['upstream_reconnecting', 'upstream_recovered']);
    // The socket never closed and no error reached the client.
    expect(await isOpen(st.ws)).toBe(true);
    expect(st.ws.all().filter(isError)).toEqual([]);

    // The new provider session got the uncommitted turn (everything from the first frame: the echo engine
    // never commits), including the frames sent before the kill, then the frames kept during the outage,
    // then the live ones: every frame, in order, once.
    const upstreamAfter = [...p.runs[1]!.values()].filter(
      (frames) => frames[0]! > st.base && frames[0]! < st.base + FRAME_BASE,
    );
    expect(upstreamAfter).toHaveLength(1);
    const frames = upstreamAfter[0]!;
    expect(frames[0]).toBe(st.base + 1);
    expect(frames.at(-1)).toBe(last);
    expect(contiguous(frames)).toBe(true);
    expect(frames).toContain(st.base + sentBeforeKill[i]!);
  }
  for (const st of streamers) await st.ws.close();
}

describe('provider outage', () => {
  it('provider gone for 2 s while six sessions stream: nothing closes, echoes resume, the turn reaches the new provider session', async () => {
    await outage(2000, 'outage2');
  }, 90_000);

  it('provider gone for 10 s: still within the default 30 s budget, same outcome', async () => {
    await outage(10_000, 'outage10');
  }, 90_000);

  it('budget spent (RTV_PROVIDER_RETRY_BUDGET_S=2, provider gone for good): upstream_unavailable and resumable close 1011', async () => {
    const p = await RestartableProvider.start(PROVIDER_KEY);
    provider = p;
    stack = await startStack({ workerEnv: { OPENAI_REALTIME_URL: p.url, RTV_PROVIDER_RETRY_BUDGET_S: '2' } });
    const ws = await WsTestClient.connect(stack.wsUrl('budget_spent'));
    await ws.nextOfType('session.created');
    ws.send(audioMessage(numberedFrame(1)));
    await waitFor(() => echoedFrames(ws).includes(1), { message: 'echo before the outage' });
    await p.down();
    const error = await ws.next<{ error: { code: string } }>(isError, 15_000);
    expect(error.error.code).toBe('upstream_unavailable');
    expect(noticeCodes(ws)).toEqual(['upstream_reconnecting']);
    const close = await ws.closed;
    // 1011: reconnect with backoff and resume (libs/protocol close-codes: InternalError).
    expect(close.code).toBe(1011);
  }, 60_000);
});
