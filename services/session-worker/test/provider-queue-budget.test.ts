// The provider queue's byte budget across reconnects: while the provider socket is being re-opened, client
// audio beyond `maxQueuedBytes` is dropped and counted, the client is told once per connect (not per frame),
// and what was held reaches the new provider session in order.
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { FakeProvider, metricValue } from './helpers/fake-provider.js';
import { runnerHarness } from './helpers/runner-harness.js';

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
});

/** A 100 ms chunk of 24 kHz PCM16: its append event is about 6.4 KB. */
const audio = (fill: number) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_audio_buffer', audio: Buffer.alloc(4800, fill).toString('base64') },
});

describe('provider queue byte budget', () => {
  it('drops audio beyond the budget while reconnecting, tells the client once per connect, keeps the rest', async () => {
    const provider = await FakeProvider.start();
    providers.push(provider);
    const h = runnerHarness(provider.url, {
      deps: {
        provider: {
          url: provider.url,
          model: 'gpt-realtime',
          shape: 'ga',
          maxAttempts: 3,
          backoffMs: 1,
          maxQueuedBytes: 16_384,
          // Only the queue here: the uncommitted-turn re-send has its own tests (provider-outage.test.ts).
          uncommittedTurnMaxBytes: 0,
        },
      },
    });
    runners.push(h.runner);
    await h.runner.start();
    await provider.waitForEvents(1, 1);
    const errors = () => h.messages().filter((m) => m.type === 'error');
    const dropped = () =>
      metricValue(h.registry, 'rtv_worker_dropped_frames_total', { reason: 'provider_queue_full' });

    for (const conn of [2, 3]) {
      provider.configure({ onConnect: 'hold' });
      provider.drop(conn - 1);
      await provider.waitForConnections(conn);
      for (let i = 0; i < 5; i++) h.send(audio(conn * 10 + i));
      expect(errors()).toHaveLength(conn - 1);
      expect(errors().at(-1)).toMatchObject({ error: { code: 'rate_limited' } });
      expect(await dropped()).toBe((conn - 1) * 3);
      provider.sendCreated(conn);
      const appends = await provider.waitForEvents(conn, 3);
      const fills = appends
        .filter((e) => e.type === 'input_audio_buffer.append')
        .map((e) => Buffer.from(String(e.event.audio), 'base64')[0]);
      expect(fills).toEqual([conn * 10, conn * 10 + 1]);
    }
    // Live again: audio goes straight through, no more errors.
    h.send(audio(7));
    await provider.waitForEvents(3, 4);
    expect(errors()).toHaveLength(2);
  });
});
