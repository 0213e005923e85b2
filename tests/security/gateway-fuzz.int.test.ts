// Hostile input against a running gateway (a real process): 20,000 random and mutated frames from several
// sockets at once while a well-behaved session talks beside them. The gateway stays up, the good session is
// unaffected, memory stays bounded and every bad frame gets an error or the right close. Then a flood from
// one socket is throttled and closed without slowing the others.
import { readFileSync } from 'node:fs';
import { freePort, type SpawnedService, spawnService, WsTestClient } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { type FuzzFrame, type FuzzOutcome, isExpectedOutcome, takeFrames } from './fuzz-frames.js';

const FRAMES = 20_000;
const SOCKETS = 4;
const MAX_FRAME_BYTES = 65_536;
/**
 * Errors a session may produce on its own, later, for an earlier valid frame (the worker and the provider answer
 * asynchronously), whatever the last frame was: every upstream_* code, conversation_busy, and the two
 * invalid_message answers the worker relays from the provider. Anything else is the gateway's verdict on the frame.
 */
const SESSION_CODES = new Set(['conversation_busy']);
const SESSION_MESSAGES = new Set([
  'There is no active response to cancel',
  'Not enough audio to commit (at least 100 ms is needed)',
]);
const fromSession = (e: { code: string; message: string }) =>
  e.code.startsWith('upstream_') || SESSION_CODES.has(e.code) || SESSION_MESSAGES.has(e.message);
const LEAK = /\bat [\w.<>]+ \(|node:internal|\/work\/|sk-[A-Za-z0-9]|Error: |127\.0\.0\.1|localhost/;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

type Msg = { type: string; timestamp?: number; error?: { code: string; message: string } };

/** Sends one frame followed by a ping marker and reads what the gateway made of the frame. */
async function probe(
  ws: WsTestClient,
  frame: FuzzFrame,
  marker: number,
): Promise<{ outcome: FuzzOutcome; messages: string[] }> {
  const before = ws.all().length;
  ws.sendFrame(frame.data, frame.binary);
  ws.send({ type: 'ping', ping: { timestamp: marker } });
  const closed = ws.closed.then((c) => ({ closed: c }));
  const pong = ws
    .next((m) => (m as Msg).type === 'pong' && (m as Msg).timestamp === marker, 10_000)
    .then(
      () => ({ closed: undefined }),
      // The socket closed before the marker came back: the close is the outcome.
      () => ws.closed.then((c) => ({ closed: c })),
    );
  const result = await Promise.race([pong, closed]);
  const replies = (ws.all().slice(before) as Msg[]).filter((m) => m.type === 'error');
  const messages = replies.map((m) => m.error!.message);
  const own = replies.find((m) => !fromSession(m.error!));
  if (result.closed) return { outcome: { kind: 'close', code: result.closed.code }, messages };
  if (own) return { outcome: { kind: 'error', code: own.error!.code as never }, messages };
  return { outcome: { kind: 'accepted' }, messages };
}

describe('gateway under hostile input', () => {
  let stack: Stack;
  let gateway: SpawnedService;
  let port: number;
  beforeAll(async () => {
    stack = await startStack({
      workers: 1,
      engine: { tts: 'synthetic' },
      workerEnv: { RTV_WORKER_CAPACITY: '500' },
    });
    port = await freePort();
    const admin = await freePort();
    gateway = await spawnService(
      'services/gateway/src/main.ts',
      {
        REDIS_URL: stack.redis.url,
        RTV_REDIS_PREFIX: stack.redis.prefix,
        RTV_LOG_LEVEL: 'error',
        RTV_GATEWAY_PORT: String(port),
        RTV_GATEWAY_ADMIN_PORT: String(admin),
        RTV_STATUS_URL: stack.statusUrl,
        RTV_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
        RTV_MAX_NEW_CONNECTIONS_PER_IP: '10000',
        RTV_MAX_CONNECTIONS_PER_USER: '1000',
        // The fuzz run measures validation, not the rate limits (the flood test below does).
        RTV_MAX_MESSAGES_PER_S: '1000000',
        RTV_MAX_BYTES_PER_S: '1000000000',
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await stack?.stop();
  });

  const url = (user: string) => `ws://127.0.0.1:${port}/api/v1/streaming/realtime/${user}`;

  it('answers 20,000 hostile frames correctly while a good session carries on', async () => {
    const good = await WsTestClient.connect(url('good'));
    await good.nextOfType('session.created');
    let goodTurns = 0;
    let goodRunning = true;
    const goodLoop = (async () => {
      while (goodRunning) {
        good.send({
          type: 'conversation.item.input',
          conversation_item_input: { type: 'input_text', text: `Turn ${goodTurns}` },
        });
        await good.nextOfType('response.done', 15_000);
        goodTurns++;
      }
    })();

    const rssBefore = rssBytes(gateway.pid);
    const frames = takeFrames(FRAMES, { seed: 20261126, maxFrameBytes: MAX_FRAME_BYTES });
    const wrong: string[] = [];
    const leaks: string[] = [];
    let closes = 0;
    await Promise.all(
      Array.from({ length: SOCKETS }, async (_, s) => {
        let ws = await WsTestClient.connect(url(`fuzz-${s}`));
        await ws.nextOfType('session.created');
        for (let i = s; i < frames.length; i += SOCKETS) {
          const frame = frames[i]!;
          const { outcome, messages } = await probe(ws, frame, i + 1);
          if (!isExpectedOutcome(frame, outcome)) {
            const last = JSON.stringify(ws.all().slice(-3)).slice(0, 300);
            wrong.push(
              `#${frame.index} ${frame.category} (${frame.note}): got ${JSON.stringify(outcome)}; last: ${last}`,
            );
          }
          for (const m of messages) if (LEAK.test(m)) leaks.push(m);
          if (outcome.kind === 'close') {
            closes++;
            ws = await WsTestClient.connect(url(`fuzz-${s}`));
            await ws.nextOfType('session.created');
          }
        }
        await ws.close();
      }),
    );
    goodRunning = false;
    await goodLoop;

    if (wrong.length > 0) console.log(`gateway output:\n${gateway.output().slice(-4000)}`);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(leaks.slice(0, 5)).toEqual([]);
    expect(gateway.child.exitCode).toBeNull();
    expect(goodTurns).toBeGreaterThan(3);
    // The good session still answers promptly and its socket never closed.
    good.send({ type: 'ping', ping: { timestamp: 42 } });
    await good.nextOfType('pong', 2000);
    await good.close();
    const rssAfter = rssBytes(gateway.pid);
    console.log(
      `fuzz: ${FRAMES} frames, ${closes} closes, good session ${goodTurns} turns, gateway RSS ${(rssBefore / 1048576).toFixed(0)} → ${(rssAfter / 1048576).toFixed(0)} MiB`,
    );
    expect(rssAfter - rssBefore).toBeLessThan(256 * 1024 * 1024);
  }, 300_000);
});

describe('flood', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { RTV_MAX_MESSAGES_PER_S: '50' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('throttles one flooding socket with rate_limited, then closes it 1008; a neighbour is not slowed', async () => {
    const calm = await WsTestClient.connect(stack.wsUrl('calm'));
    await calm.nextOfType('session.created');
    const flood = await WsTestClient.connect(stack.wsUrl('flood'));
    await flood.nextOfType('session.created');
    const pings: number[] = [];
    const calmLoop = (async () => {
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        calm.send({ type: 'ping', ping: { timestamp: i } });
        await calm.nextOfType('pong', 2000);
        pings.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    // Bursts of 100 frames every 50 ms (2,000 frames/s against a 50/s limit) until the gateway closes it.
    let isClosed = false;
    void flood.closed.then(() => {
      isClosed = true;
    });
    for (let burst = 0; burst < 200 && !isClosed; burst++) {
      for (let i = 0; i < 100; i++) flood.send({ type: 'ping', ping: { timestamp: burst * 100 + i } });
      await new Promise((r) => setTimeout(r, 50));
    }
    const closed = await flood.closed;
    expect(closed.code).toBe(1008);
    const limited = (flood.all() as Msg[]).filter(
      (m) => m.type === 'error' && m.error!.code === 'rate_limited',
    );
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length).toBeLessThanOrEqual(6);
    await calmLoop;
    expect(pings).toHaveLength(20);
    console.log(`flood: calm neighbour ping p50 ${pings.sort((a, b) => a - b)[10]!.toFixed(2)} ms`);
    await calm.close();
  }, 60_000);
});
