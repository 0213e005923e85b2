import { createKeys, type HistoryItem, type MemoryBusWriter, type SessionState } from '@rtv/bus';
import { type BusLine, CloseCode, FrameKind, NoticeCode } from '@rtv/protocol';
import { freePort, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionRunner, SessionRunnerDeps } from '../src/sessions/session-runner.js';
import { FakeProvider, metricValue } from './helpers/fake-provider.js';
import { type Harness, runnerHarness } from './helpers/runner-harness.js';

/** Server frame seqs are `epoch · 2³² + n`. */
const STRIDE = 2 ** 32;
const SID = 'sess_unit_1';
const keys = createKeys('t');
const gw1 = keys.gatewayOut('gw-1');
const gw2 = keys.gatewayOut('gw-2');

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
});

async function startProvider(): Promise<FakeProvider> {
  const provider = await FakeProvider.start();
  providers.push(provider);
  return provider;
}

/** A runner as `runnerHarness` builds it, with this file's session id and a small resume buffer. */
function harness(
  url: string,
  state: Partial<SessionState> = {},
  deps: Partial<SessionRunnerDeps> = {},
  history: HistoryItem[] = [],
): Harness {
  const h = runnerHarness(url, {
    state: { sid: SID, ...state },
    deps: { resumeBufferBytes: 64 * 1024, ...deps },
    history,
  });
  runners.push(h.runner);
  return h;
}

/** The M lines of a stream as [seq, parsed payload]. */
function messages(writer: MemoryBusWriter, stream: string): Array<[number, Record<string, unknown>]> {
  return writer
    .lines(stream)
    .filter((l): l is Extract<BusLine, { op: 'M' }> => l.op === 'M')
    .map((l) => [l.seq, JSON.parse(l.payload.toString('utf8')) as Record<string, unknown>]);
}

/** Ops of the lines of a stream, in order. */
const ops = (writer: MemoryBusWriter, stream: string) => writer.lines(stream).map((l) => l.op);

const textDelta = (delta: string) => ({ type: 'response.output_text.delta', delta });
const deltaOf = (msg: Record<string, unknown>) =>
  (msg.response as { delta: { content: string } }).delta.content;

describe('SessionRunner', () => {
  it('binds at its gateway on start and opens the provider session with the config', async () => {
    const provider = await startProvider();
    const { runner, writer, registry } = harness(provider.url);
    await runner.start();
    expect(writer.lines(gw1)).toEqual([{ op: 'B', sid: SID, wid: 'wk-1', epoch: 1 }]);
    expect(writer.streamNames()).toEqual([gw1]);
    const events = await provider.waitForEvents(1, 1);
    expect(events.map((e) => e.type)).toEqual(['session.update']);
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(0);
  });

  it('opens a new session without reading its history, and reads it for a reconnect', async () => {
    const provider = await startProvider();
    const history: HistoryItem[] = [{ type: 'text', role: 'user', text: 'Hello', at: 1, seq: 1 }];
    let reads = 0;
    const loadHistory = async () => {
      reads++;
      return [...history];
    };
    const { runner } = harness(provider.url, {}, { loadHistory }, history);
    await runner.start();
    expect((await provider.waitForEvents(1, 1)).map((e) => e.type)).toEqual(['session.update']);
    expect(reads).toBe(0);
    // The provider drops the socket: the new provider session gets the history back, read from the records.
    provider.drop(1);
    const restored = await provider.waitForEvents(2, 2);
    expect(restored.map((e) => e.type)).toEqual(['session.update', 'conversation.item.create']);
    expect(reads).toBe(1);
  });

  it('applies client frames in order and drops repeats: each audio append reaches the provider once', async () => {
    const provider = await startProvider();
    const { runner, registry } = harness(provider.url);
    await runner.start();
    runner.apply(1, FrameKind.Audio, Buffer.from('AAAA'));
    runner.apply(2, FrameKind.Audio, Buffer.from('BBBB'));
    runner.apply(2, FrameKind.Audio, Buffer.from('BBBB'));
    runner.apply(1, FrameKind.Audio, Buffer.from('AAAA'));
    runner.apply(3, FrameKind.Json, Buffer.from('{"type":"input_audio_buffer.commit"}'));
    runner.apply(3, FrameKind.Json, Buffer.from('{"type":"input_audio_buffer.commit"}'));
    runner.apply(4, FrameKind.Json, Buffer.from('{"type":"response.cancel"}'));
    expect(runner.appliedSeq).toBe(4);

    // The provider socket is ordered: once the last frame is there, any repeat would be there too.
    const events = await provider.waitForEvents(1, 5);
    expect(
      events.map((e) => (e.type === 'input_audio_buffer.append' ? `append:${e.event.audio}` : e.type)),
    ).toEqual([
      'session.update',
      'append:AAAA',
      'append:BBBB',
      'input_audio_buffer.commit',
      'response.cancel',
    ]);
    expect(await metricValue(registry, 'rtv_worker_duplicate_frames_total')).toBe(3);
    expect(await metricValue(registry, 'rtv_worker_frames_to_provider_total', { type: 'audio' })).toBe(2);
    expect(
      await metricValue(registry, 'rtv_worker_frames_to_provider_total', {
        type: 'input_audio_buffer.commit',
      }),
    ).toBe(1);
  });

  it('translates JSON client frames: a text turn and a session.update answered with the new session', async () => {
    const provider = await startProvider();
    const { runner, writer, history, savedConfigs } = harness(provider.url);
    await runner.start();
    runner.apply(
      1,
      FrameKind.Json,
      Buffer.from(
        '{"type":"conversation.item.input","conversation_item_input":{"type":"input_text","text":"Hi"}}',
      ),
    );
    runner.apply(
      2,
      FrameKind.Json,
      Buffer.from('{"type":"session.update","session_update":{"voice":"verse"}}'),
    );
    const events = await provider.waitForEvents(1, 4);
    expect(events.map((e) => e.type)).toEqual([
      'session.update',
      'conversation.item.create',
      'response.create',
      'session.update',
    ]);
    expect(events[1]!.event.item).toEqual({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'Hi' }],
    });
    expect(events[3]!.event).toMatchObject({ session: { audio: { output: { voice: 'verse' } } } });
    expect(history).toEqual([{ role: 'user', type: 'text', text: 'Hi', at: expect.any(Number), seq: 1 }]);
    // Nothing is in effect before the provider accepted it.
    expect(savedConfigs).toEqual([]);
    expect(runner.state.config.voice).toBe('alloy');

    // The first session.updated answers the restore update every provider session starts with.
    provider.send(1, { type: 'session.updated', session: {} });
    provider.send(1, { type: 'session.updated', session: {} });
    await waitFor(() => savedConfigs.length === 1, { message: 'config committed' });
    expect(savedConfigs.map((c) => c.voice)).toEqual(['verse']);
    expect(runner.state.config.voice).toBe('verse');
    const [[seq, msg]] = (await waitFor(() => {
      const m = messages(writer, gw1);
      return m.length === 1 ? m : undefined;
    })) as [[number, Record<string, unknown>]];
    expect(seq).toBe(STRIDE + 1);
    expect(msg).toMatchObject({ type: 'session.update', session: { id: SID, voice: 'verse' } });
  });

  it('numbers server frames epoch·2³²+n in M lines to the gateway stream', async () => {
    const provider = await startProvider();
    const { runner, writer, registry } = harness(provider.url);
    await runner.start();
    provider.send(1, textDelta('Hel'));
    provider.send(1, textDelta('lo'));
    provider.send(1, { type: 'response.output_audio.delta', response_id: 'r', item_id: 'i', delta: 'AAAA' });
    const msgs = await waitFor(() => {
      const m = messages(writer, gw1);
      return m.length === 3 ? m : undefined;
    });
    expect(msgs.map(([seq]) => seq)).toEqual([STRIDE + 1, STRIDE + 2, STRIDE + 3]);
    expect(msgs.map(([, m]) => m.type)).toEqual(['response.delta', 'response.delta', 'response.audio']);
    expect(deltaOf(msgs[0]![1])).toBe('Hel');
    expect((msgs[2]![1].response as { audio: string }).audio).toBe('AAAA');
    expect(writer.lines(gw1).every((l) => !('epoch' in l) || l.epoch === 1)).toBe(true);
    expect(ops(writer, gw1)).toEqual(['B', 'M', 'M', 'M']);
    expect(await metricValue(registry, 'rtv_worker_frames_to_client_total')).toBe(3);
  });

  it('takeover (epoch > 1): binds with an ack of the applied seq, restores history, tells the client it recovered', async () => {
    const provider = await startProvider();
    const history: HistoryItem[] = [{ role: 'user', type: 'text', text: 'Earlier', at: 1 }];
    const { runner, writer } = harness(provider.url, { epoch: 3, lastSeq: 7 }, {}, history);
    await runner.start();
    const lines = writer.lines(gw1);
    expect(lines.slice(0, 2)).toEqual([
      { op: 'B', sid: SID, wid: 'wk-1', epoch: 3 },
      { op: 'A', sid: SID, epoch: 3, seq: 7 },
    ]);
    expect(messages(writer, gw1)).toEqual([
      [
        3 * STRIDE + 1,
        expect.objectContaining({
          type: 'session.notice',
          notice: { code: 'session_recovered', message: NoticeCode.session_recovered.message },
        }),
      ],
    ]);
    expect(lines[2]).toMatchObject({ op: 'M', epoch: 3 });

    // Frames the previous owner applied are repeats here.
    runner.apply(7, FrameKind.Audio, Buffer.from('OLD7'));
    runner.apply(8, FrameKind.Audio, Buffer.from('NEW8'));
    const events = await provider.waitForEvents(1, 3);
    expect(events.map((e) => e.type)).toEqual([
      'session.update',
      'conversation.item.create',
      'input_audio_buffer.append',
    ]);
    expect(events[1]!.event.item).toMatchObject({ role: 'user', content: [{ text: 'Earlier' }] });
    expect(events[2]!.event.audio).toBe('NEW8');
    expect(runner.appliedSeq).toBe(8);
  });

  it('detached from the start: sends nothing, keeps frames, and on resume binds, acks and replays only what the client missed', async () => {
    const provider = await startProvider();
    const { runner, writer, registry } = harness(provider.url, { clientAttached: false, lastSeq: 4 });
    await runner.start();
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(1);
    provider.send(1, textDelta('a'));
    provider.send(1, textDelta('b'));
    provider.send(1, textDelta('c'));
    await waitFor(async () => (await metricValue(registry, 'rtv_worker_frames_to_client_total')) === 3, {
      message: 'three frames emitted',
    });
    expect(writer.streamNames()).toEqual([]);

    // The client saw the first frame before it went away.
    runner.resume('gw-2', STRIDE + 1);
    const lines = writer.lines(gw2);
    expect(lines.slice(0, 2)).toEqual([
      { op: 'B', sid: SID, wid: 'wk-1', epoch: 1 },
      { op: 'A', sid: SID, epoch: 1, seq: 4 },
    ]);
    const msgs = messages(writer, gw2);
    expect(msgs.map(([seq]) => seq)).toEqual([STRIDE + 2, STRIDE + 3, STRIDE + 4]);
    expect(msgs.slice(0, 2).map(([, m]) => deltaOf(m))).toEqual(['b', 'c']);
    expect(msgs[2]![1]).toMatchObject({
      type: 'session.notice',
      notice: { code: 'session_resumed', message: NoticeCode.session_resumed.message },
    });
    expect(writer.lines(gw1)).toEqual([]);
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(0);
    expect(await metricValue(registry, 'rtv_worker_resumes_total')).toBe(1);
    expect(await metricValue(registry, 'rtv_worker_resume_replayed_frames_total')).toBe(2);

    // Live again: new frames go to the new gateway.
    provider.send(1, textDelta('d'));
    const [seq, msg] = (await waitFor(() => messages(writer, gw2)[3]))!;
    expect(seq).toBe(STRIDE + 5);
    expect(deltaOf(msg)).toBe('d');
  });

  it('detach mid-session: a stale detach from another gateway is ignored, a real one holds frames until resume', async () => {
    const provider = await startProvider();
    const { runner, writer, registry } = harness(provider.url);
    await runner.start();
    runner.detach('gw-other');
    provider.send(1, textDelta('one'));
    await waitFor(() => messages(writer, gw1).length === 1, { message: 'first frame sent' });

    runner.detach('gw-1');
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(1);
    provider.send(1, textDelta('two'));
    await waitFor(async () => (await metricValue(registry, 'rtv_worker_frames_to_client_total')) === 2, {
      message: 'second frame emitted',
    });
    expect(messages(writer, gw1).map(([seq]) => seq)).toEqual([STRIDE + 1]);

    runner.resume('gw-1', STRIDE + 1);
    expect(ops(writer, gw1)).toEqual(['B', 'M', 'B', 'M', 'M']);
    const msgs = messages(writer, gw1);
    expect(msgs.map(([seq]) => seq)).toEqual([STRIDE + 1, STRIDE + 2, STRIDE + 3]);
    expect(deltaOf(msgs[1]![1])).toBe('two');
    expect(msgs[2]![1]).toMatchObject({ type: 'session.notice', notice: { code: 'session_resumed' } });
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(0);
  });

  it('resume after the outbound buffer overflowed replays what is left and says some messages are lost', async () => {
    const provider = await startProvider();
    // Each response.delta frame is ~90 bytes: 300 bytes keep the last three at most.
    const { runner, writer, registry } = harness(
      provider.url,
      { clientAttached: false },
      { resumeBufferBytes: 300 },
    );
    await runner.start();
    for (const d of ['a', 'b', 'c', 'd', 'e', 'f']) provider.send(1, textDelta(d));
    await waitFor(async () => (await metricValue(registry, 'rtv_worker_frames_to_client_total')) === 6, {
      message: 'six frames emitted',
    });
    runner.resume('gw-2', STRIDE + 1);
    const msgs = messages(writer, gw2);
    const replayed = msgs.slice(0, -1).map(([seq]) => seq);
    // Only the newest frames are left, without gaps, ending with the last one.
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.length).toBeLessThan(5);
    expect(replayed).toEqual(replayed.map((_, i) => STRIDE + 7 - replayed.length + i));
    expect(msgs.slice(0, -1).map(([, m]) => deltaOf(m))).toEqual(
      ['a', 'b', 'c', 'd', 'e', 'f'].slice(-replayed.length),
    );
    expect(msgs.at(-1)![1]).toMatchObject({
      type: 'session.notice',
      notice: {
        code: 'session_resumed',
        message: 'Session resumed; some older messages could not be replayed',
      },
    });
    expect(await metricValue(registry, 'rtv_worker_resume_replayed_frames_total')).toBe(replayed.length);
  });

  it('ends with resume_timeout when the client does not come back within the grace period (fake clock)', async () => {
    const provider = await startProvider();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { runner, registry } = harness(provider.url, { clientAttached: false }, { resumeGraceMs: 30_000 });
    let ended: string | undefined;
    void runner.done.then((reason) => {
      ended = reason;
    });
    // The provider session opens over real sockets; only the grace timer runs on the fake clock.
    await runner.start();
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(1);

    await vi.advanceTimersByTimeAsync(29_999);
    expect(ended).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await runner.done).toBe('resume_timeout');
    expect(ended).toBe('resume_timeout');
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(0);
    vi.useRealTimers();
    await waitFor(() => provider.closed.includes(1), { message: 'provider socket closed' });
  });

  it('a resume within the grace period cancels the timer; a later detach starts a fresh one (fake clock)', async () => {
    const provider = await startProvider();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { runner } = harness(provider.url, {}, { resumeGraceMs: 10_000 });
    let ended: string | undefined;
    void runner.done.then((reason) => {
      ended = reason;
    });
    await runner.start();

    runner.detach('gw-1');
    await vi.advanceTimersByTimeAsync(9_000);
    runner.resume('gw-2', 0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ended).toBeUndefined();

    // The client is now at gw-2: a late detach from gw-1 is stale, one from gw-2 counts.
    runner.detach('gw-1');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ended).toBeUndefined();
    runner.detach('gw-2');
    await vi.advanceTimersByTimeAsync(9_999);
    expect(ended).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(ended).toBe('resume_timeout');
  });

  it('end() is idempotent: done resolves with the first reason, the provider is closed, later frames are dropped', async () => {
    const provider = await startProvider();
    const { runner, registry } = harness(provider.url, { clientAttached: false });
    await runner.start();
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(1);
    runner.end('client_closed');
    runner.end('lease_lost');
    expect(await runner.done).toBe('client_closed');
    expect(await metricValue(registry, 'rtv_worker_sessions_detached')).toBe(0);
    await waitFor(() => provider.closed.includes(1), { message: 'provider socket closed' });

    runner.apply(1, FrameKind.Audio, Buffer.from('AAAA'));
    runner.resume('gw-2', 0);
    expect(runner.appliedSeq).toBe(0);
    expect(await metricValue(registry, 'rtv_worker_duplicate_frames_total')).toBe(1);
    expect(provider.typesOn(1)).toEqual(['session.update']);
  });

  it('fails with upstream_unavailable and a close line when the provider cannot be reached', async () => {
    const port = await freePort();
    const { runner, writer } = harness(`ws://127.0.0.1:${port}/v1/realtime`);
    await runner.start();
    expect(await runner.done).toBe('upstream_failed');
    const lines = writer.lines(gw1);
    expect(lines.map((l) => l.op)).toEqual(['B', 'M', 'X']);
    expect(messages(writer, gw1)).toEqual([
      [
        STRIDE + 1,
        {
          type: 'error',
          error: {
            code: 'upstream_unavailable',
            message: 'The speech provider is unavailable; try again later',
          },
        },
      ],
    ]);
    expect(lines[2]).toEqual({
      op: 'X',
      sid: SID,
      epoch: 1,
      code: CloseCode.InternalError,
      reason: 'upstream unavailable',
    });
  });
});
