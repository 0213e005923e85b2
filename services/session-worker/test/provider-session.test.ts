import type { HistoryItem } from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from '@rtv/protocol';
import { freePort, waitFor } from '@rtv/testing';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../src/metrics.js';
import { ProviderSession, type ProviderSessionOptions } from '../src/upstream/provider-session.js';
import {
  FakeProvider,
  type FakeProviderOptions,
  freshRegistry,
  metricValue,
  silentLogger,
} from './helpers/fake-provider.js';

const config: SessionConfig = { ...DEFAULT_SESSION_CONFIG, voice: 'verse', instructions: 'Be brief.' };
const history: HistoryItem[] = [
  { role: 'user', type: 'text', text: 'What is the capital of France?', at: 1 },
  { role: 'assistant', type: 'text', text: 'Paris.', at: 2 },
];

const append = (audio: string) => `{"type":"input_audio_buffer.append","audio":"${audio}"}`;

interface Harness {
  session: ProviderSession;
  registry: Registry;
  /** Raw provider events handed to `onEvent`, decoded. */
  events: string[];
  reconnecting: number;
  unavailable: number;
  connects: boolean[];
}

const sessions: ProviderSession[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const p of providers.splice(0)) await p.stop();
});

async function startProvider(opts?: FakeProviderOptions): Promise<FakeProvider> {
  const provider = await FakeProvider.start(opts);
  providers.push(provider);
  return provider;
}

function harness(url: string, overrides: Partial<ProviderSessionOptions> = {}): Harness {
  const registry = freshRegistry();
  const h: Harness = {
    registry,
    events: [],
    reconnecting: 0,
    unavailable: 0,
    connects: [],
    session: undefined as unknown as ProviderSession,
  };
  h.session = new ProviderSession({
    url,
    model: 'gpt-realtime',
    shape: 'ga',
    log: silentLogger(),
    metrics: createWorkerMetrics(registry),
    onEvent: (raw) => h.events.push(raw.toString('utf8')),
    onReconnecting: () => h.reconnecting++,
    onUnavailable: () => h.unavailable++,
    onConnect: (ok) => h.connects.push(ok),
    context: async () => ({ config, history }),
    maxAttempts: 3,
    backoffMs: 5,
    ...overrides,
  });
  sessions.push(h.session);
  return h;
}

describe('ProviderSession', () => {
  it('queues events while connecting and sends them in order after session.created and the session.update', async () => {
    const provider = await startProvider({ onConnect: 'hold' });
    const h = harness(provider.url, { apiKey: 'sk-test' });
    const opened = h.session.open(false);
    await provider.waitForConnections(1);

    expect(h.session.send(append('AAAA'))).toBe(true);
    expect(h.session.send(append('BBBB'))).toBe(true);
    expect(h.session.send('{"type":"input_audio_buffer.commit"}')).toBe(true);
    // Nothing is sent before the provider says the session exists.
    expect(provider.eventsOn(1)).toEqual([]);

    provider.sendCreated(1);
    expect(await opened).toBe(true);
    const events = await provider.waitForEvents(1, 4);
    expect(events.map((e) => e.type)).toEqual([
      'session.update',
      'input_audio_buffer.append',
      'input_audio_buffer.append',
      'input_audio_buffer.commit',
    ]);
    expect(events[0]!.event).toMatchObject({
      session: { type: 'realtime', audio: { output: { voice: 'verse' } } },
    });
    expect(events.slice(1, 3).map((e) => e.event.audio)).toEqual(['AAAA', 'BBBB']);
    // No history on a first open, the model in the query, the key as a bearer token.
    expect(provider.eventsOn(1, 'conversation.item.create')).toEqual([]);
    expect(provider.requests[0]!.url).toBe('/v1/realtime?model=gpt-realtime');
    expect(provider.requests[0]!.authorization).toBe('Bearer sk-test');
    expect(h.connects).toEqual([true]);

    // Once open, events go straight out (and are counted as bytes sent).
    const direct = append('CCCC');
    expect(h.session.send(direct)).toBe(true);
    expect((await provider.waitForEvents(1, 5))[4]!.event.audio).toBe('CCCC');
    expect(await metricValue(h.registry, 'rtv_worker_upstream_sent_bytes_total')).toBe(direct.length);
  });

  it('drops events beyond maxQueued while connecting', async () => {
    const provider = await startProvider({ onConnect: 'hold' });
    const h = harness(provider.url, { maxQueued: 2 });
    const opened = h.session.open(false);
    await provider.waitForConnections(1);
    expect([append('AAAA'), append('BBBB'), append('CCCC')].map((e) => h.session.send(e))).toEqual([
      true,
      true,
      false,
    ]);
    provider.sendCreated(1);
    expect(await opened).toBe(true);
    const events = await provider.waitForEvents(1, 3);
    expect(events.map((e) => e.event.audio ?? e.type)).toEqual(['session.update', 'AAAA', 'BBBB']);
  });

  it('passes provider events through in order and tracks whether a response is in progress', async () => {
    const provider = await startProvider();
    const h = harness(provider.url);
    expect(await h.session.open(false)).toBe(true);
    expect(h.session.responding).toBe(false);

    provider.send(1, { type: 'response.created', response: { id: 'resp_1' } });
    await waitFor(() => h.session.responding, { message: 'responding' });
    provider.send(1, { type: 'response.output_text.delta', delta: 'Hi' });
    provider.send(1, { type: 'response.done', response: { id: 'resp_1', status: 'completed' } });
    await waitFor(() => h.events.length === 3, { message: 'three events' });
    expect(h.session.responding).toBe(false);
    expect(h.events.map((raw) => JSON.parse(raw).type)).toEqual([
      'response.created',
      'response.output_text.delta',
      'response.done',
    ]);
  });

  it('reconnects after the provider drops the socket, restoring config and history before queued events', async () => {
    const provider = await startProvider();
    const h = harness(provider.url);
    expect(await h.session.open(false)).toBe(true);
    await provider.waitForEvents(1, 1);
    provider.send(1, { type: 'response.created', response: { id: 'resp_1' } });
    await waitFor(() => h.session.responding, { message: 'responding' });

    provider.drop(1);
    await waitFor(() => h.reconnecting === 1, { message: 'onReconnecting' });
    // Sent while the new provider session is being opened: queued behind the restored context.
    expect(h.session.responding).toBe(false);
    expect(h.session.send(append('DDDD'))).toBe(true);

    await provider.waitForConnections(2);
    const events = await provider.waitForEvents(2, 4);
    expect(events.map((e) => e.type)).toEqual([
      'session.update',
      'conversation.item.create',
      'conversation.item.create',
      'input_audio_buffer.append',
    ]);
    // Same session config as the first provider session.
    expect(events[0]!.event).toEqual(provider.eventsOn(1, 'session.update')[0]!.event);
    expect(events.slice(1, 3).map((e) => e.event.item)).toEqual([
      {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: 'What is the capital of France?' }],
      },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Paris.' }] },
    ]);
    expect(events[3]!.event.audio).toBe('DDDD');
    await waitFor(
      async () =>
        (await metricValue(h.registry, 'rtv_worker_upstream_reconnects_total', { result: 'ok' })) === 1,
      { message: 'reconnect counted' },
    );
    expect(h.connects).toEqual([true, true]);
    expect(h.unavailable).toBe(0);
    expect(h.reconnecting).toBe(1);
  });

  it('gives up after maxAttempts against a port that refuses, and says so once', async () => {
    const port = await freePort();
    const h = harness(`ws://127.0.0.1:${port}/v1/realtime`, { maxAttempts: 3, backoffMs: 1 });
    expect(await h.session.open(false)).toBe(false);
    expect(h.unavailable).toBe(1);
    expect(h.connects).toEqual([false]);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_retryable' }),
    ).toBe(3);
    expect(h.reconnecting).toBe(0);
  });

  it('does not retry a connect the provider refuses for good (close 3000, bad key)', async () => {
    const provider = await startProvider({ onConnect: 'reject-auth' });
    const h = harness(provider.url, { maxAttempts: 5, backoffMs: 1 });
    expect(await h.session.open(false)).toBe(false);
    expect(provider.connections).toBe(1);
    expect(h.unavailable).toBe(1);
    expect(await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_fatal' })).toBe(
      1,
    );
  });

  it('reports unavailable when reconnecting fails after the provider went away', async () => {
    const provider = await startProvider();
    const h = harness(provider.url, { maxAttempts: 2, backoffMs: 1 });
    expect(await h.session.open(false)).toBe(true);
    await provider.stop();
    await waitFor(() => h.unavailable === 1, { message: 'onUnavailable' });
    expect(h.reconnecting).toBe(1);
    expect(h.connects).toEqual([true, false]);
    expect(await metricValue(h.registry, 'rtv_worker_upstream_reconnects_total', { result: 'failed' })).toBe(
      1,
    );
  });

  it('renews the provider session after renewAfterMs, waiting for the response in progress to finish', async () => {
    const provider = await startProvider();
    const renewAfterMs = 250;
    const h = harness(provider.url, { renewAfterMs });
    const openedAt = Date.now();
    expect(await h.session.open(false)).toBe(true);
    provider.send(1, { type: 'response.created', response: { id: 'resp_1' } });
    await waitFor(() => h.session.responding, { message: 'responding' });
    // The response started well before the renewal was due (else this test proves nothing).
    expect(provider.connections).toBe(1);

    // Past the renewal time: still the first provider session while the response runs.
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + renewAfterMs * 2 - Date.now())));
    expect(provider.connections).toBe(1);

    provider.send(1, { type: 'response.done', response: { id: 'resp_1', status: 'completed' } });
    await provider.waitForConnections(2);
    const events = await provider.waitForEvents(2, 3);
    expect(events.map((e) => e.type)).toEqual([
      'session.update',
      'conversation.item.create',
      'conversation.item.create',
    ]);
    // The old provider socket is closed by the worker once the new one is in use.
    await waitFor(() => provider.closed.includes(1), { message: 'first provider socket closed' });
    await waitFor(
      async () =>
        (await metricValue(h.registry, 'rtv_worker_upstream_renewals_total', { result: 'ok' })) === 1,
      { message: 'renewal counted' },
    );
    expect(h.reconnecting).toBe(0);
  });
});
