// rtv_gateway_replay_bytes: what the gateway holds for replay (and rtv_worker_uncommitted_turn_bytes: the owner's
// copy of the turn in progress), read at each scrape. With no worker running, no
// owner acknowledges anything, so every audio frame a client sends stays held; a worker that binds the session
// holds its acknowledgement back while the turn is in progress (docs/deploy.md, memory of a turn in progress), and
// the gauge falls back once the client commits the turn.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWorker } from '../durability/helpers.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { scrape, total } from './helpers/prom.js';

const FRAMES = 20;
/** 20 ms of 24 kHz PCM16 (960 bytes), base64: 1,280 characters. */
const AUDIO = Buffer.alloc(960, 7).toString('base64');
const audioFrame = JSON.stringify({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_audio_buffer', audio: AUDIO },
});

describe('rtv_gateway_replay_bytes', () => {
  let stack: Stack;
  const replayBytes = async () =>
    total(
      await scrape(`http://127.0.0.1:${stack.gateways[0]!.adminPort}/metrics`),
      'rtv_gateway_replay_bytes',
    );
  beforeAll(async () => {
    stack = await startStack({ workers: 0, engine: { mode: 'echo' } });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('counts the bytes of unacknowledged client frames, and falls back once an owner acknowledges them', async () => {
    expect(await replayBytes()).toBe(0);
    const ws = await WsTestClient.connect(stack.wsUrl('replay-bytes'));
    for (let i = 0; i < FRAMES; i++) ws.send(audioFrame);
    // Each held line is the base64 audio plus the line's few header bytes.
    await waitFor(async () => (await replayBytes()) >= FRAMES * AUDIO.length, {
      message: 'the frames held for replay',
    });
    expect(await replayBytes()).toBeLessThan(FRAMES * (AUDIO.length + 100));
    const workerAdmin = await freePort();
    const worker = await spawnWorker(stack, 'wk-replay', { RTV_WORKER_ADMIN_PORT: String(workerAdmin) });
    const turnBytes = async () =>
      total(await scrape(`http://127.0.0.1:${workerAdmin}/metrics`), 'rtv_worker_uncommitted_turn_bytes');
    try {
      await ws.nextOfType('session.created', 15_000);
      // Bound now, the frames are still the user's turn in progress, which the owner does not acknowledge (a new
      // owner would need it whole), and which the owner keeps too, for a fresh provider session. The client's
      // commit ends the turn: the acknowledgement follows, and the owner lets its copy go.
      await waitFor(async () => (await turnBytes()) >= FRAMES * AUDIO.length, {
        message: "the owner's copy of the turn",
        timeoutMs: 15_000,
      });
      expect(await replayBytes()).toBeGreaterThanOrEqual(FRAMES * AUDIO.length);
      ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
      await waitFor(async () => (await replayBytes()) === 0, {
        message: 'the held frames acknowledged',
        timeoutMs: 15_000,
      });
      await waitFor(async () => (await turnBytes()) === 0, { message: "the owner's copy let go" });
    } finally {
      await ws.close();
      await worker.stop('SIGKILL');
    }
  }, 60_000);
});

// RTV_GATEWAY_REPLAY_MAX_BYTES: what all of a gateway's sessions may hold for replay together. With no worker
// running nothing is acknowledged, so the frames add up; above the budget, a session over its equal share is
// refused (replay_buffer_full, close 1013) while one under its share goes on.
describe('RTV_GATEWAY_REPLAY_MAX_BYTES', () => {
  /** Room for about 30 held frames (each ~1.3 KB): a holds 21, b 10, and together they pass it. */
  const BUDGET = 40_000;
  let stack: Stack;
  const held = async () =>
    total(
      await scrape(`http://127.0.0.1:${stack.gateways[0]!.adminPort}/metrics`),
      'rtv_gateway_replay_bytes',
    );
  const errorCodes = (ws: WsTestClient) =>
    ws
      .all()
      .filter((m) => (m as { type?: string }).type === 'error')
      .map((m) => (m as { error: { code: string } }).error.code);
  beforeAll(async () => {
    stack = await startStack({
      workers: 0,
      engine: { mode: 'echo' },
      gatewayEnv: { RTV_GATEWAY_REPLAY_MAX_BYTES: String(BUDGET) },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses the session over its share once the sessions together hold the budget, and not the others', async () => {
    const a = await WsTestClient.connect(stack.wsUrl('budget-a'));
    const b = await WsTestClient.connect(stack.wsUrl('budget-b'));
    try {
      for (let i = 0; i < 21; i++) a.send(audioFrame);
      await waitFor(async () => (await held()) >= 21 * AUDIO.length, { message: "a's frames held" });
      const heldByA = await held();
      expect(heldByA).toBeLessThan(BUDGET);
      for (let i = 0; i < 10; i++) b.send(audioFrame);
      // b's last frames took the total past the budget: b, under its share (half of it), was not refused.
      await waitFor(async () => (await held()) >= heldByA + 10 * AUDIO.length, {
        message: "b's frames held",
      });
      expect(await held()).toBeGreaterThan(BUDGET);
      await sleep(300);
      expect(errorCodes(a)).toEqual([]);
      expect(errorCodes(b)).toEqual([]);

      // a holds more than its share: its next frame is refused, and it is told to resume.
      a.send(audioFrame);
      const err = await a.nextOfType<{ error: { code: string; message: string } }>('error');
      expect(err.error.code).toBe('replay_buffer_full');
      expect(err.error.message).toMatch(/more than its share/);
      expect((await a.closed).code).toBe(1013);
      const samples = await scrape(`http://127.0.0.1:${stack.gateways[0]!.adminPort}/metrics`);
      expect(total(samples, 'rtv_gateway_limit_rejections_total', { kind: 'replay_budget' })).toBe(1);
      expect(total(samples, 'rtv_gateway_replay_budget_bytes')).toBe(BUDGET);

      // b goes on: its frames are still taken and held.
      const before = await held();
      b.send(audioFrame);
      await waitFor(async () => (await held()) >= before + AUDIO.length, { message: "b's next frame held" });
      expect(errorCodes(b)).toEqual([]);
    } finally {
      await a.close().catch(() => undefined);
      await b.close();
    }
  }, 60_000);
});
