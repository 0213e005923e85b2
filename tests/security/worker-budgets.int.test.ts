// The session worker's byte budgets against a running stack (gateway, worker, status API on a real Redis),
// driven by real WebSocket clients: a history flood stays within RTV_HISTORY_MAX_BYTES with long items cut and
// marked, and audio streamed while the provider is still connecting stops at RTV_PROVIDER_QUEUE_MAX_BYTES with
// the client told, never silently.
import { createKeys } from '@rtv/bus';
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeProvider } from '../../services/session-worker/test/helpers/fake-provider.js';
import { type Stack, startStack, TEST_API_KEY } from '../e2e/helpers/stack.js';
import { scrape, total } from '../observability/helpers/prom.js';

type ErrorMessage = { type: 'error'; error: { code: string; message: string; event_id?: string } };
type StoredItem = { type?: string; role?: string; text?: string; truncated?: boolean };

const HISTORY_MAX_BYTES = 16_384;
const ITEM_MAX_BYTES = 4096;
const QUEUE_MAX_BYTES = 16_384;

/** One 100 ms chunk of 24 kHz PCM16 audio, as the client sends it. */
const audioFrame = (fill: number) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_audio_buffer', audio: Buffer.alloc(4800, fill).toString('base64') },
});

async function workerMetric(stack: Stack, name: string, labels: Record<string, string>): Promise<number> {
  return total(await scrape(`http://127.0.0.1:${stack.workers[0]!.adminPort}/metrics`), name, labels);
}

const errorsOf = (ws: WsTestClient) =>
  ws.all().filter((m) => (m as { type?: string }).type === 'error') as ErrorMessage[];

describe('session worker byte budgets (end to end)', () => {
  let stack: Stack | undefined;
  let provider: FakeProvider | undefined;
  afterEach(async () => {
    await stack?.stop();
    await provider?.stop();
    stack = undefined;
    provider = undefined;
  });

  it('a history flood stays within RTV_HISTORY_MAX_BYTES: long texts cut and marked, oldest dropped, counted', async () => {
    stack = await startStack({
      workerEnv: {
        RTV_HISTORY_MAX_BYTES: String(HISTORY_MAX_BYTES),
        RTV_HISTORY_ITEM_MAX_BYTES: String(ITEM_MAX_BYTES),
      },
    });
    const ws = await WsTestClient.connect(stack.wsUrl('flooder'));
    const { session } = await ws.nextOfType<{ session: { id: string } }>('session.created');
    const turns = 6;
    for (let i = 0; i < turns; i++) {
      // 16,002 characters (the protocol allows 16,384): 32 KB of UTF-8, four bytes per emoji.
      ws.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: `${i} ${'😀'.repeat(8000)}` },
      });
      await ws.nextOfType('response.done', 10_000);
    }

    const historyKey = createKeys(stack.redis.prefix).sessionHistory(session.id);
    const stored = await waitFor(
      async () => {
        const raw = await stack!.redis.redis.lrangeBuffer(historyKey, 0, -1);
        const items = raw.map((b) => JSON.parse(b.toString('utf8')) as StoredItem);
        const last = items.at(-1);
        return items.at(-2)?.text?.startsWith(`${turns - 1} `) && last?.role === 'assistant'
          ? { raw, items }
          : undefined;
      },
      { message: 'the last turn and its reply in the history' },
    );
    // Without the budget: six 32 KB user texts plus the replies.
    expect(stored.raw.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(HISTORY_MAX_BYTES);
    for (const b of stored.raw) expect(b.length).toBeLessThanOrEqual(ITEM_MAX_BYTES);
    const users = stored.items.filter((item) => item.role === 'user');
    // The oldest turns are gone, the newest kept, each cut on a character boundary and marked.
    expect(users.length).toBeLessThan(turns);
    expect(users.length).toBeGreaterThan(1);
    for (const item of users) {
      expect(item.truncated).toBe(true);
      expect(item.text).toMatch(/^\d (?:😀)+$/u);
    }

    const res = await fetch(`${stack.statusUrl}/api/v1/streaming/realtime/sessions/${session.id}`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      history: Array<{ role: string; text: string; truncated?: boolean }>;
    };
    const shown = body.history.filter((h) => h.role === 'user');
    expect(shown.map((h) => h.truncated)).toEqual(users.map(() => true));
    expect(shown.at(-1)?.text).toBe(users.at(-1)?.text);
    expect(body.history.filter((h) => h.role === 'assistant').every((h) => h.truncated === undefined)).toBe(
      true,
    );

    const trimmed = 'rtv_worker_history_items_trimmed_total';
    expect(await workerMetric(stack, trimmed, { reason: 'item_bytes' })).toBe(turns);
    expect(await workerMetric(stack, trimmed, { reason: 'session_bytes' })).toBe(
      turns * 2 - stored.items.length,
    );

    // The session still works after the flood.
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Still there?' },
    });
    await ws.nextOfType('response.done', 10_000);
    expect(errorsOf(ws)).toEqual([]);
    await ws.close();
  });

  it('audio streamed while the provider connects stops at RTV_PROVIDER_QUEUE_MAX_BYTES and the client is told once', async () => {
    provider = await FakeProvider.start({ onConnect: 'hold' });
    // No warm pool: the provider connection held here must be the session's own, still connecting.
    stack = await startStack({
      workerEnv: {
        OPENAI_REALTIME_URL: provider.url,
        RTV_PROVIDER_QUEUE_MAX_BYTES: String(QUEUE_MAX_BYTES),
        RTV_PROVIDER_POOL_SIZE: '0',
      },
    });
    const ws = await WsTestClient.connect(stack.wsUrl('streamer'));
    await ws.nextOfType('session.created');
    // The worker bound the session and waits for the provider's session.created.
    await provider.waitForConnections(1);
    const frames = 20;
    for (let i = 0; i < frames; i++) ws.send(audioFrame(i));
    const queueFull = await ws.next<ErrorMessage>(
      (m) => (m as ErrorMessage).type === 'error' && (m as ErrorMessage).error.code === 'rate_limited',
    );
    expect(queueFull.error.message).toMatch(/still connecting.*audio.*dropped/);

    const forwarded = () => workerMetric(stack!, 'rtv_worker_frames_to_provider_total', { type: 'audio' });
    const dropped = () =>
      workerMetric(stack!, 'rtv_worker_dropped_frames_total', { reason: 'provider_queue_full' });
    await waitFor(async () => (await forwarded()) + (await dropped()) === frames, {
      message: 'every audio frame applied by the worker',
    });
    const held = await forwarded();
    // 6.4 KB per append: two fit in 16 KiB, the rest were refused.
    expect(held).toBe(2);
    expect(await dropped()).toBe(frames - held);

    // A function result larger than what is left cannot be queued now either: refused with its event_id.
    const output = {
      type: 'conversation.item.input',
      event_id: 'ev_output_1',
      conversation_item_input: {
        type: 'function_call_output',
        call_id: 'call_1',
        output: JSON.stringify({ rows: 'r'.repeat(8000) }),
      },
    };
    ws.send(output);
    const refused = await ws.next<ErrorMessage>(
      (m) => (m as ErrorMessage).type === 'error' && (m as ErrorMessage).error.event_id === 'ev_output_1',
    );
    expect(refused.error.code).toBe('rate_limited');

    provider.sendCreated(1);
    const appends = () => provider!.eventsOn(1, 'input_audio_buffer.append');
    await waitFor(() => appends().length === held, { message: 'the queued audio at the provider' });
    // What was held arrived in full and in order: the first frames, not the latest.
    expect(appends().map((e) => Buffer.from(String(e.event.audio), 'base64')[0])).toEqual([0, 1]);

    // Ready now: audio flows, and the refused result is accepted when sent again.
    ws.send(audioFrame(99));
    ws.send({ ...output, event_id: 'ev_output_2' });
    await waitFor(() => appends().length === held + 1, { message: 'audio after the provider is ready' });
    await waitFor(() => provider!.eventsOn(1, 'conversation.item.create').length === 1, {
      message: 'the function result at the provider',
    });
    expect(errorsOf(ws).map((e) => e.error.event_id ?? e.error.code)).toEqual([
      'rate_limited',
      'ev_output_1',
    ]);
    await ws.close();
  });
});
