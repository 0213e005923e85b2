// A CompatSessionRunner with the real parts around it: the local engine as the provider (seen through a
// recording WebSocket relay, so the test knows the exact bytes the engine wrote), the Redis bus (a StreamWriter
// to the gateway's out-stream, read back with a StreamReader), and the session record, history and token
// budgets in Redis, wired by createRunnerDeps as the worker wires them.
import type { AddressInfo } from 'node:net';
import type { RedisClient } from '@rtv/bus';
import {
  createKeys,
  createRedis,
  type HistoryItem,
  type Keys,
  SessionRecords,
  StreamReader,
  StreamWriter,
  TokenBudgets,
  waitReady,
} from '@rtv/bus';
import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import {
  type BusLine,
  CloseCode,
  type CompatSessionSettings,
  DEFAULT_SESSION_CONFIG,
  decodeBatch,
  FrameKind,
  type SessionConfig,
} from '@rtv/protocol';
import { createTestRedis, type TestRedis, waitFor } from '@rtv/testing';
import type { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { INTERNAL_EVENT_PREFIX } from '../src/compat/compat-restore.js';
import { CompatSessionRunner } from '../src/compat/compat-session-runner.js';
import { loadWorkerConfig } from '../src/config.js';
import { createWorkerMetrics } from '../src/metrics.js';
import { createRunnerDeps } from '../src/sessions/runner-deps.js';
import { freshRegistry, metricValue, silentLogger } from './helpers/fake-provider.js';

type Json = Record<string, unknown>;

const SID = 'sess_compat_runner_1';
const USER = 'user_compat_1';
/** Server frame seqs are `epoch · 2³² + n`. */
const STRIDE = 2 ** 32;

/**
 * A WebSocket relay in front of the engine: each connection is piped to the engine unchanged, and every
 * message in each direction is recorded as the bytes that crossed it.
 */
class EngineTap {
  /** Per connection, in the order they were made: the engine's events as received, in order. */
  readonly fromEngine: Buffer[][] = [];
  /** Per connection, the events the worker sent, parsed. */
  readonly fromWorker: Json[][] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    engineUrl: string,
  ) {
    const origin = new URL(engineUrl).origin;
    wss.on('connection', (client, req) => {
      const received: Buffer[] = [];
      const sent: Json[] = [];
      this.fromEngine.push(received);
      this.fromWorker.push(sent);
      const upstream = new WebSocket(`${origin}${req.url ?? ''}`, { perMessageDeflate: false });
      const queued: Buffer[] = [];
      upstream.on('open', () => {
        for (const data of queued.splice(0)) upstream.send(data, { binary: false });
      });
      upstream.on('message', (data: Buffer) => {
        received.push(Buffer.from(data));
        client.send(data, { binary: false });
      });
      client.on('message', (data: Buffer) => {
        sent.push(JSON.parse(data.toString('utf8')) as Json);
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: false });
        else queued.push(Buffer.from(data));
      });
      upstream.on('close', () => client.close());
      client.on('close', () => upstream.close());
      upstream.on('error', () => client.terminate());
    });
  }

  static async start(engineUrl: string): Promise<EngineTap> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new EngineTap(wss, engineUrl);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1/realtime`;
  }

  /** The engine's events on connection `conn` (1-based), parsed. */
  engineEvents(conn = 1): Json[] {
    return (this.fromEngine[conn - 1] ?? []).map((b) => JSON.parse(b.toString('utf8')) as Json);
  }

  /** The worker's events on connection `conn` (1-based). */
  workerEvents(conn = 1): Json[] {
    return this.fromWorker[conn - 1] ?? [];
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

let engine: LocalEngine;

beforeAll(async () => {
  engine = await startLocalEngine({ tts: 'synthetic' });
});

afterAll(async () => {
  await engine?.close();
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface SetupOptions {
  epoch?: number;
  /** The provider session object kept in the record (what a restore sends first). */
  session?: Json;
  /** History already in Redis (a previous owner's). */
  history?: HistoryItem[];
  budget?: { tokens: number; windowS: number };
}

/** One session's worth of real parts, with a started runner. */
async function setup(opts: SetupOptions = {}) {
  const t: TestRedis = await createTestRedis('compat-runner');
  cleanups.push(() => t.cleanup());
  const keys: Keys = createKeys(t.prefix);
  const commands: RedisClient = createRedis(t.url, { name: 'compat-runner-commands' });
  const blocking: RedisClient = createRedis(t.url, { name: 'compat-runner-read' });
  cleanups.push(() => {
    commands.disconnect();
    blocking.disconnect();
  });
  await Promise.all([waitReady(commands), waitReady(blocking)]);

  const lines: BusLine[] = [];
  const reader = new StreamReader({
    stream: keys.gatewayOut('gw-1'),
    blocking,
    commands,
    blockMs: 100,
    onBatch: (batch) => decodeBatch(batch, (line) => lines.push(copyLine(line))),
  });
  await reader.start();
  cleanups.push(() => reader.stop(true));

  const tap = await EngineTap.start(engine.url);
  cleanups.push(() => tap.stop());

  const records = new SessionRecords(commands, keys);
  const openai: CompatSessionSettings = {
    model: 'gpt-realtime',
    session: opts.session ?? {},
    userClass: 'default',
    rtvEvents: false,
    ...(opts.budget ? { budget: opts.budget } : {}),
  };
  const config: SessionConfig = { ...DEFAULT_SESSION_CONFIG, openai };
  await records.create({ sid: SID, userId: USER, gatewayId: 'gw-1', createdMs: Date.now() }, config);
  for (const item of opts.history ?? []) await records.appendHistory(SID, item);

  const registry: Registry = freshRegistry();
  const metrics = createWorkerMetrics(registry);
  const writer = new StreamWriter(commands);
  const budgets = new TokenBudgets(commands, keys);
  const deps = {
    ...createRunnerDeps({
      config: loadWorkerConfig({ RTV_LOG_LEVEL: 'silent' }),
      workerId: 'wk-1',
      keys,
      writer,
      records,
      provider: {
        url: tap.url,
        model: 'gpt-realtime',
        apiKey: undefined,
        auth: undefined,
        shape: 'ga',
        engine: undefined,
        kind: 'local-engine',
      },
      metrics,
      log: silentLogger(),
      onProviderConnect: () => undefined,
    }),
    spendTokens: (userId: string, tokens: number, budget: { tokens: number; windowS: number }) =>
      budgets.spend(userId, tokens, budget),
  };
  const runner = new CompatSessionRunner(
    {
      sid: SID,
      userId: USER,
      gatewayId: 'gw-1',
      epoch: opts.epoch ?? 1,
      config: structuredClone(config),
      lastSeq: 0,
      clientAttached: true,
      createdMs: Date.now(),
    },
    deps,
  );
  cleanups.push(() => runner.end('client_closed'));
  await runner.start();

  let seq = 0;
  /** The client's messages the gateway got, parsed, in order. */
  const messages = (): Json[] =>
    lines
      .filter((l): l is Extract<BusLine, { op: 'M' }> => l.op === 'M')
      .map((l) => JSON.parse(l.payload.toString('utf8')) as Json);
  return {
    t,
    keys,
    records,
    registry,
    tap,
    runner,
    lines,
    messages,
    /** Applies one client event as the gateway forwards it (JSON frame, next seq). */
    send: (event: Json) => runner.apply(++seq, FrameKind.Json, Buffer.from(JSON.stringify(event))),
    /** Resolves with the messages once one satisfies `pred`. */
    waitForMessage: (pred: (m: Json) => boolean, what: string) =>
      waitFor(() => (messages().some(pred) ? messages() : undefined), { message: what, timeoutMs: 15_000 }),
  };
}

/** Lines from the reader point into its batch: keep a copy. */
function copyLine(line: BusLine): BusLine {
  return 'payload' in line ? ({ ...line, payload: Buffer.from(line.payload) } as BusLine) : { ...line };
}

const ofType = (type: string) => (m: Json) => m.type === type;

const userText = (id: string, text: string) => ({
  type: 'conversation.item.create',
  item: { id, type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
});

/** The item id of a `conversation.item.*` event, if any. */
const itemIdOf = (m: Json) => ((m.item ?? {}) as Json).id;

describe('CompatSessionRunner: a new session', () => {
  it('forwards session.created, then relays a text turn byte for byte; the items go to the history with their ids', async () => {
    const s = await setup();
    const created = await s.waitForMessage(ofType('session.created'), 'session.created');
    expect(created).toHaveLength(1);
    expect(s.lines[0]).toEqual({ op: 'B', sid: SID, wid: 'wk-1', epoch: 1 });

    s.send(userText('item_client_1', 'Hello there'));
    s.send({ type: 'response.create', event_id: 'evt_resp_1' });
    await s.waitForMessage(ofType('response.done'), 'response.done');
    // Everything the engine wrote reached the client unchanged and in order (no restore on a new session).
    const payloads = () =>
      s.lines.flatMap((l) => (l.op === 'M' ? [Buffer.from(l.payload).toString('utf8')] : []));
    const engineWrote = () => s.tap.fromEngine[0]!.map((b) => b.toString('utf8'));
    await waitFor(() => payloads().length === engineWrote().length, {
      message: 'every engine event relayed',
      timeoutMs: 15_000,
    });
    expect(payloads()).toEqual(engineWrote());
    const types = s.messages().map((m) => m.type);
    expect(types[0]).toBe('session.created');
    expect(types).toContain('response.output_audio.delta');
    expect(s.messages().find(ofType('conversation.item.added'))).toMatchObject({
      item: { id: 'item_client_1', role: 'user' },
    });
    // Numbered from this owner's epoch.
    const seqs = s.lines.flatMap((l) => (l.op === 'M' ? [l.seq] : []));
    expect(seqs[0]).toBe(STRIDE + 1);
    expect(seqs).toEqual(seqs.map((_, i) => STRIDE + 1 + i));
    // What the worker sent the engine: the client's events, as they were.
    expect(s.tap.workerEvents().map((e) => e.type)).toEqual(['conversation.item.create', 'response.create']);

    const assistantDone = s
      .messages()
      .find((m) => m.type === 'conversation.item.done' && (m.item as Json).role === 'assistant');
    const assistantId = itemIdOf(assistantDone!);
    const [spoken] = (assistantDone!.item as { content: Array<{ transcript: string }> }).content;
    expect(spoken!.transcript.length).toBeGreaterThan(0);
    const history = await waitFor(
      async () => {
        const h = await s.records.loadHistory(SID);
        return h.length === 2 ? h : undefined;
      },
      { message: 'two history items' },
    );
    expect(history).toEqual([
      { role: 'user', type: 'text', text: 'Hello there', at: expect.any(Number), item_id: 'item_client_1' },
      {
        role: 'assistant',
        type: 'text',
        text: spoken!.transcript,
        at: expect.any(Number),
        item_id: assistantId,
      },
    ]);
  });

  it('keeps the merged client session.update in the record once the provider applied it; a refused one is not kept', async () => {
    const initial = { type: 'realtime', instructions: 'Be kind.', audio: { output: { voice: 'marin' } } };
    const s = await setup({ session: initial });
    await s.waitForMessage(ofType('session.created'), 'session.created');
    // The restore of the kept session (the policy's initial settings) is the owner's own.
    await waitFor(() => s.tap.engineEvents().some(ofType('session.updated')), {
      message: 'restore answered',
    });
    expect(s.tap.workerEvents()[0]).toMatchObject({
      type: 'session.update',
      event_id: `${INTERNAL_EVENT_PREFIX}session_1`,
      session: initial,
    });

    // Refused, and sent without an event id: the owner tags it to match the refusal, which names no id.
    s.send({ type: 'session.update', session: { type: 'realtime', temperature: 0.7 } });
    s.send({
      type: 'session.update',
      event_id: 'evt_good',
      session: {
        type: 'realtime',
        audio: { input: { transcription: { model: 'whisper-1' } }, output: { speed: 1.2 } },
      },
    });
    await waitFor(() => s.messages().filter(ofType('session.updated')).length === 2, {
      message: 'the client’s session.updated',
    });
    const error = s.messages().find(ofType('error'));
    expect(error).toMatchObject({ error: { code: 'unknown_parameter', event_id: null } });
    // The first provider session's settings are news to the client (its session.created showed the defaults).
    expect(s.messages().filter(ofType('session.updated'))[0]).toMatchObject({
      session: { instructions: 'Be kind.' },
    });

    const expected = {
      type: 'realtime',
      instructions: 'Be kind.',
      audio: { output: { voice: 'marin', speed: 1.2 }, input: { transcription: { model: 'whisper-1' } } },
    };
    const kept = await waitFor(
      async () => {
        const record = await s.records.read(SID);
        const session = (record?.config.openai as CompatSessionSettings | undefined)?.session;
        return session && (session.audio as Json).input ? session : undefined;
      },
      { message: 'the merged session saved' },
    );
    expect(kept).toEqual(expected);
    expect((s.runner.state.config.openai as CompatSessionSettings).session).toEqual(expected);
  });

  it('ends the session when the budget is spent: error budget_exhausted, then close 4000', async () => {
    const s = await setup({ budget: { tokens: 1, windowS: 60 } });
    await s.waitForMessage(ofType('session.created'), 'session.created');
    s.send(userText('item_b1', 'Spend it all'));
    s.send({ type: 'response.create', response: { output_modalities: ['text'] } });
    let ended: string | undefined;
    void s.runner.done.then((reason) => {
      ended = reason;
    });
    expect(await waitFor(() => ended, { message: 'the session ended', timeoutMs: 15_000 })).toBe(
      'budget_exhausted',
    );
    await waitFor(() => s.lines.some((l) => l.op === 'X'), { message: 'the close line' });

    const messages = s.messages();
    const done = messages.findIndex(ofType('response.done'));
    const error = messages.findIndex(ofType('error'));
    expect(done).toBeGreaterThan(-1);
    expect(error).toBeGreaterThan(done);
    expect(messages[error]).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', code: 'budget_exhausted', event_id: null },
    });
    const last = s.lines.at(-1)!;
    expect(last).toMatchObject({ op: 'X', sid: SID, epoch: 1, code: CloseCode.SessionEnded });
    expect(CloseCode.SessionEnded).toBe(4000);
    // The close comes after the error on the stream.
    const errorLine = s.lines.findIndex(
      (l) => l.op === 'M' && Buffer.from(l.payload).toString().includes('budget_exhausted'),
    );
    expect(errorLine).toBeGreaterThan(-1);
    expect(errorLine).toBeLessThan(s.lines.findIndex((l) => l.op === 'X'));
    // The budget in Redis holds the response's total_tokens.
    const usage = (messages[done]!.response as Json).usage as Json;
    const budgets = new TokenBudgets(s.t.redis, s.keys);
    expect(await budgets.remaining(USER, { tokens: 1, windowS: 60 })).toBe(0);
    expect(usage.total_tokens).toBeGreaterThan(0);
  });
});

describe('CompatSessionRunner: a takeover', () => {
  const history: HistoryItem[] = [
    { role: 'user', type: 'text', text: 'My name is Ada. Call lookup', at: 1, item_id: 'item_hist_user' },
    {
      type: 'function_call',
      call_id: 'call_hist_1',
      name: 'lookup',
      arguments: '{}',
      at: 2,
      item_id: 'item_hist_call',
    },
    {
      type: 'function_call_output',
      call_id: 'call_hist_1',
      output: '{"ok":true}',
      at: 3,
      item_id: 'item_hist_out',
    },
    { role: 'assistant', type: 'text', text: 'Nice to meet you, Ada.', at: 4, item_id: 'item_hist_asst' },
  ];
  const historyIds = history.map((item) => item.item_id);

  it('restores the items under their ids; the client sees no session.created and no item events for them', async () => {
    const s = await setup({ epoch: 2, history, session: { type: 'realtime', instructions: 'Be brief.' } });
    expect(await waitFor(() => s.lines[0], { message: 'the bind line' })).toEqual({
      op: 'B',
      sid: SID,
      wid: 'wk-1',
      epoch: 2,
    });
    // The engine got the kept session, then every item under its id, each tagged as the owner's own.
    const restore = await waitFor(
      () => {
        const sent = s.tap.workerEvents();
        return sent.length >= 5 ? sent : undefined;
      },
      { message: 'the restore events' },
    );
    expect(restore.map((e) => e.type)).toEqual([
      'session.update',
      'conversation.item.create',
      'conversation.item.create',
      'conversation.item.create',
      'conversation.item.create',
    ]);
    expect(restore.slice(1).map((e) => itemIdOf(e))).toEqual(historyIds);
    expect(restore.every((e) => String(e.event_id).startsWith(INTERNAL_EVENT_PREFIX))).toBe(true);
    // The engine accepted them (no error) under those ids.
    await waitFor(
      () =>
        s.tap
          .engineEvents()
          .some((e) => e.type === 'conversation.item.done' && itemIdOf(e) === 'item_hist_asst'),
      { message: 'the restored items done' },
    );
    expect(s.tap.engineEvents().filter(ofType('error'))).toEqual([]);

    // The next turn: its events are the first the client sees.
    s.send(userText('item_new_1', 'What is my name?'));
    s.send({ type: 'response.create', response: { output_modalities: ['text'] } });
    await s.waitForMessage(ofType('response.done'), 'response.done');
    const messages = s.messages();
    expect(messages[0]).toMatchObject({ type: 'conversation.item.added', item: { id: 'item_new_1' } });
    expect(messages.filter((m) => m.type === 'session.created' || m.type === 'session.updated')).toEqual([]);
    expect(messages.filter((m) => historyIds.includes(itemIdOf(m) as string))).toEqual([]);
    expect(s.lines.flatMap((l) => (l.op === 'M' ? [l.seq] : []))[0]).toBe(2 * STRIDE + 1);
    // The new item follows the restored ones in the provider's conversation.
    expect(messages[0]).toMatchObject({ previous_item_id: 'item_hist_asst' });

    // The provider session holds a restored item under the id the client knows.
    s.send({ type: 'conversation.item.retrieve', event_id: 'evt_get', item_id: 'item_hist_user' });
    const retrieved = (await s.waitForMessage(ofType('conversation.item.retrieved'), 'retrieved')).find(
      ofType('conversation.item.retrieved'),
    );
    expect(retrieved).toMatchObject({
      item: { id: 'item_hist_user', role: 'user', content: [{ type: 'input_text', text: history[0]!.text }] },
    });
  });

  it('drops a replayed conversation.item.create whose id, or function result, the history already holds', async () => {
    const s = await setup({ epoch: 2, history });
    await waitFor(
      () =>
        s.tap
          .engineEvents()
          .some((e) => e.type === 'conversation.item.done' && itemIdOf(e) === 'item_hist_asst'),
      { message: 'the restore done' },
    );
    // The gateway replays what the dead owner had not acknowledged: items the conversation already holds.
    s.send(userText('item_hist_user', 'My name is Ada. Call lookup'));
    s.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: 'call_hist_1', output: '{"ok":true}' },
    });
    // Then one the conversation does not hold.
    s.send(userText('item_after', 'And now?'));
    await s.waitForMessage(
      (m) => m.type === 'conversation.item.done' && itemIdOf(m) === 'item_after',
      'the new item done',
    );
    const creates = s.tap.workerEvents().filter(ofType('conversation.item.create'));
    expect(creates.map((e) => itemIdOf(e))).toEqual([...historyIds, 'item_after']);
    expect(s.messages().filter(ofType('error'))).toEqual([]);
    expect(
      await metricValue(s.registry, 'rtv_worker_dropped_frames_total', { reason: 'item_repeated' }),
    ).toBe(2);
    // The new item is kept; the replays are not kept twice.
    const kept = await waitFor(
      async () => {
        const h = await s.records.loadHistory(SID);
        return h.length === history.length + 1 ? h : undefined;
      },
      { message: 'the new item in the history' },
    );
    expect(kept.map((i) => i.item_id)).toEqual([...historyIds, 'item_after']);
  });
});
