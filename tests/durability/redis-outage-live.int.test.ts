// Live sessions through a Redis outage: six clients stream numbered audio through an echo provider while the
// only redis-server is killed and restarted (empty, then with its data kept). Every session must get its echoes
// again on the same socket, and no numbered frame the gateway accepted before or during the outage may be
// missing. An outage longer than the gateway can hold input for ends in the documented error and a resumable
// close, and the SDK resumes the same session.
import { RealtimeVoiceClient } from '@rtv/client';
import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import {
  freePort,
  PrivateRedis,
  type SpawnedService,
  spawnService,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  audioMessage,
  echoedFrames,
  frameNumber,
  noticeCodes,
  numberedFrame,
  recordUpstream,
} from './helpers.js';

const PROVIDER_KEY = 'redis-outage-provider-key';
const FRAME_MS = 20;

/** A raw client streaming numbered 20 ms frames in real time for as long as `streaming` is on. */
class NumberedStream {
  readonly sent: number[] = [];
  private next = 1;
  private timer: NodeJS.Timeout | undefined;
  closedCode: number | undefined;

  constructor(readonly ws: WsTestClient) {
    void ws.closed.then((c) => {
      this.closedCode = c.code;
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.closedCode !== undefined) return;
      const n = this.next++;
      this.ws.send(audioMessage(numberedFrame(n)));
      this.sent.push(n);
    }, FRAME_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  missing(): number[] {
    const echoed = new Set(echoedFrames(this.ws));
    return this.sent.filter((n) => !echoed.has(n));
  }
}

/** The SDK's client with what a test checks: error codes, closes, echoed frame numbers, the resumed session. */
class WatchedSdkClient {
  readonly client: RealtimeVoiceClient;
  readonly errors: string[] = [];
  readonly closes: Array<{ code: number; willReconnect: boolean }> = [];
  readonly echoed = new Set<number>();
  /** The session id of the last resume (the same session continued). */
  resumedAs: string | undefined;

  constructor(url: string) {
    this.client = new RealtimeVoiceClient({
      url,
      WebSocket,
      heartbeatIntervalMs: false,
      reconnect: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 60 },
    });
    this.client.on('message', (message) => {
      const m = message as { type: string; error?: { code: string }; response?: { audio?: string } };
      if (m.type === 'error' && m.error) this.errors.push(m.error.code);
      if (m.type !== 'response.audio' || !m.response?.audio) return;
      const n = frameNumber(m.response.audio);
      if (n !== undefined) this.echoed.add(n);
    });
    this.client.on('close', (e) => this.closes.push({ code: e.code, willReconnect: e.willReconnect }));
    this.client.on('open', (e) => {
      if (e.resumed) this.resumedAs = e.session.id;
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis outage with live sessions', () => {
  let redis: PrivateRedis;
  let engine: LocalEngine;
  const services: SpawnedService[] = [];
  let gatewayPort: number;
  let smallGatewayPort: number;
  let boundGatewayPort: number;

  async function startGateway(port: number, env: Record<string, string> = {}): Promise<SpawnedService> {
    const admin = await freePort();
    return spawnService(
      'services/gateway/src/main.ts',
      {
        REDIS_URL: redis.url,
        RTV_LOG_LEVEL: process.env.RTV_TEST_SVC_LOG ?? 'warn',
        RTV_GATEWAY_PORT: String(port),
        RTV_GATEWAY_ADMIN_PORT: String(admin),
        ...env,
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    );
  }

  async function startWorker(id: string): Promise<SpawnedService> {
    const admin = await freePort();
    return spawnService(
      'services/session-worker/src/main.ts',
      {
        REDIS_URL: redis.url,
        RTV_LOG_LEVEL: process.env.RTV_TEST_SVC_LOG ?? 'warn',
        RTV_WORKER_ID: id,
        RTV_WORKER_ADMIN_PORT: String(admin),
        OPENAI_API_KEY: PROVIDER_KEY,
        OPENAI_REALTIME_URL: engine.url,
        OPENAI_REALTIME_MODEL: 'gpt-realtime',
        RTV_PROVIDER_SHAPE: 'ga',
        // Echo audio is never committed: keep the held turn small so the small gateway's buffer is about the
        // outage, not about the turn.
        RTV_UNCOMMITTED_TURN_MAX_BYTES: '32768',
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    );
  }

  beforeAll(async () => {
    // Persistent: a restart keeps the data unless it is told to start empty.
    redis = new PrivateRedis(await freePort(), true);
    await redis.start();
    engine = await startLocalEngine({ mode: 'echo', pace: false, apiKey: PROVIDER_KEY });
    [gatewayPort, smallGatewayPort, boundGatewayPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
    ]);
    services.push(
      await startWorker('wk-live'),
      await startGateway(gatewayPort),
      // About 1.5 s of 20 ms frames: a 4 s outage overflows it.
      await startGateway(smallGatewayPort, { RTV_REPLAY_MAX_BYTES: String(100 * 1024) }),
      await startGateway(boundGatewayPort, { RTV_REDIS_RECOVERY_MS: '3000' }),
    );
  }, 60_000);

  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL');
    await engine?.close();
    await redis?.stop();
  });

  const wsUrl = (port: number, user: string) => `ws://127.0.0.1:${port}/api/v1/streaming/realtime/${user}`;

  /** Six sessions streaming; Redis killed for `downMs`, then back (`keep`: with its data); all must recover. */
  async function sixSessionsThroughOutage(label: string, keep: boolean, downMs: number): Promise<void> {
    const streams: NumberedStream[] = [];
    const upstream = process.env.RTV_TEST_DEBUG ? recordUpstream(engine.events) : undefined;
    for (let i = 0; i < 6; i++) {
      const ws = await WsTestClient.connect(wsUrl(gatewayPort, `${label}_${i}`));
      await ws.nextOfType('session.created');
      streams.push(new NumberedStream(ws));
    }
    for (const s of streams) s.start();
    await waitFor(() => streams.every((s) => echoedFrames(s.ws).length > 20), {
      timeoutMs: 10_000,
      message: 'echoes before the outage',
    });

    await redis.kill();
    await sleep(downMs);
    await redis.start({ empty: !keep });
    await sleep(3000);
    for (const s of streams) s.stop();

    await waitFor(() => streams.every((s) => s.missing().length === 0), {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: `every accepted frame echoed (${streams.map((s) => s.missing().length).join(',')} missing)`,
    }).catch((err) => {
      if (process.env.RTV_TEST_DEBUG) {
        for (const svc of services) console.log(svc.output());
        for (const [conn, frames] of upstream ?? []) {
          const runs: string[] = [];
          let start = frames[0];
          for (let i = 1; i <= frames.length; i++) {
            if (i < frames.length && frames[i] === frames[i - 1]! + 1) continue;
            runs.push(`${start}-${frames[i - 1]}`);
            start = frames[i];
          }
          console.log('upstream', conn, runs.join(' '));
        }
        for (const st of streams) {
          const m = st.missing();
          console.log(
            'sent',
            st.sent.length,
            'missing',
            m[0],
            '…',
            m.at(-1),
            'count',
            m.length,
            'echoes',
            echoedFrames(st.ws).length,
          );
          console.log(
            JSON.stringify(
              st.ws.all().filter((x) => (x as { type: string }).type !== 'response.audio'),
            ).slice(0, 1500),
          );
        }
      }
      throw err;
    });
    for (const s of streams) {
      expect(s.closedCode).toBeUndefined();
      const errors = (s.ws.all() as Array<{ type: string; error?: { code: string } }>)
        .filter((m) => m.type === 'error')
        .map((m) => m.error?.code);
      // The outage is announced once; nothing else goes wrong.
      expect(errors).toEqual(['service_unavailable']);
      // Told that the session runs again: `session_recovered` from its owner, or `session_resumed` when the owner's
      // notice was written before this gateway's stream was back and the gateway asked for a replay.
      expect(noticeCodes(s.ws).some((c) => c === 'session_recovered' || c === 'session_resumed')).toBe(true);
      // Echoes of frames sent after Redis came back prove the session runs again, not only the replay.
      expect(s.sent.length).toBeGreaterThan(200);
    }
    for (const svc of services) expect(svc.child.exitCode).toBeNull();
    await Promise.all(streams.map((s) => s.ws.close()));
  }

  it('Redis restarts empty (no persistence, or a replica that lost everything): every session goes on', async () => {
    await sixSessionsThroughOutage('empty', false, 3000);
  }, 90_000);

  it('Redis restarts with its data kept: every session goes on', async () => {
    await sixSessionsThroughOutage('kept', true, 3000);
  }, 90_000);

  it('an outage longer than the gateway can hold input for: replay_buffer_full, 1013, the SDK resumes', async () => {
    const watched = new WatchedSdkClient(wsUrl(smallGatewayPort, 'long_outage'));
    const { client, errors, closes, echoed } = watched;
    const first = await client.connect();
    // Frames the socket took, per connection (0: the first socket, 1: after the resume).
    const sent: number[][] = [[], []];
    let next = 1;
    const timer = setInterval(() => {
      const n = next;
      const pcm = Buffer.from(numberedFrame(n), 'base64');
      if (client.sendAudio(pcm)) {
        sent[watched.resumedAs ? 1 : 0]!.push(n);
        next++;
      }
    }, FRAME_MS);
    try {
      await waitFor(() => echoed.size > 20, { timeoutMs: 10_000, message: 'echoes before the outage' });
      const sentBeforeOutage = sent[0]!.length;
      await redis.kill();
      await waitFor(() => errors.includes('replay_buffer_full'), {
        timeoutMs: 10_000,
        message: 'replay_buffer_full while Redis is down',
      });
      await sleep(2500);
      await redis.start({ empty: true });
      await waitFor(() => watched.resumedAs !== undefined, { timeoutMs: 30_000, message: 'the SDK resumed' });
      expect(watched.resumedAs).toBe(first.id);
      await waitFor(() => sent[1]!.length > 100, {
        timeoutMs: 10_000,
        message: 'streaming after the resume',
      });
      clearInterval(timer);

      expect(closes[0]).toEqual({ code: 1013, willReconnect: true });
      // What the first socket got through is a prefix 1…m of what it sent (the refused frame and those after
      // it were not taken), at least everything sent before the outage, and all of it was echoed.
      await waitFor(() => sent[1]!.every((n) => echoed.has(n)), {
        timeoutMs: 20_000,
        message: 'every frame sent after the resume echoed',
      });
      const firstSocket = sent[0]!.filter((n) => echoed.has(n));
      expect(firstSocket.length).toBeGreaterThanOrEqual(sentBeforeOutage);
      expect(firstSocket).toEqual(sent[0]!.slice(0, firstSocket.length));
    } finally {
      clearInterval(timer);
      await client.close();
    }
  }, 120_000);

  // Last: it kills the only worker.
  it('a session not running again within the bound (its only worker died meanwhile): session_recovery_failed, 1013, the SDK resumes once a worker is back', async () => {
    const watched = new WatchedSdkClient(wsUrl(boundGatewayPort, 'no_worker'));
    const { client, errors, closes, echoed } = watched;
    const first = await client.connect();
    const afterResume: number[] = [];
    let next = 1;
    const timer = setInterval(() => {
      if (!client.sendAudio(Buffer.from(numberedFrame(next), 'base64'))) return;
      if (watched.resumedAs) afterResume.push(next);
      next++;
    }, FRAME_MS);
    try {
      await waitFor(() => echoed.size > 20, { timeoutMs: 10_000, message: 'echoes before the outage' });
      await redis.kill();
      await services[0]!.stop('SIGKILL');
      await sleep(2000);
      await redis.start({ empty: true });
      await waitFor(() => errors.includes('session_recovery_failed'), {
        timeoutMs: 15_000,
        message: 'session_recovery_failed after the bound',
      });
      await waitFor(() => closes.some((c) => c.code === 1013 && c.willReconnect), {
        timeoutMs: 5000,
        message: 'a resumable 1013 close',
      });
      services.push(await startWorker('wk-after'));
      await waitFor(() => watched.resumedAs !== undefined, { timeoutMs: 30_000, message: 'the SDK resumed' });
      expect(watched.resumedAs).toBe(first.id);
      await waitFor(() => afterResume.length > 50, {
        timeoutMs: 10_000,
        message: 'streaming after the resume',
      });
      clearInterval(timer);
      await waitFor(() => afterResume.every((n) => echoed.has(n)), {
        timeoutMs: 20_000,
        message: 'every frame sent after the resume echoed',
      });
    } finally {
      clearInterval(timer);
      await client.close();
    }
  }, 120_000);
});
