// rtv_gateway_replay_bytes: what the gateway holds for replay, read at each scrape. With no worker running, no
// owner acknowledges anything, so every audio frame a client sends stays held; a worker that binds the session
// holds its acknowledgement back while the turn is in progress (docs/deploy.md, memory of a turn in progress), and
// the gauge falls back once the client commits the turn.
import { WsTestClient, waitFor } from '@rtv/testing';
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
    const worker = await spawnWorker(stack, 'wk-replay');
    try {
      await ws.nextOfType('session.created', 15_000);
      // Bound now, the frames are still the user's turn in progress, which the owner does not acknowledge (a new
      // owner would need it whole); the client's commit ends the turn, and the acknowledgement follows.
      ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
      await waitFor(async () => (await replayBytes()) === 0, {
        message: 'the held frames acknowledged',
        timeoutMs: 15_000,
      });
    } finally {
      await ws.close();
      await worker.stop('SIGKILL');
    }
  }, 60_000);
});
