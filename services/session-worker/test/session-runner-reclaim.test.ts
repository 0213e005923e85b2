// SessionRunner.reclaim: the worker claimed a session again whose lease it lost in a Redis outage; the runner
// (and its provider session) goes on with the new epoch.
import type { MemoryBusWriter } from '@rtv/bus';
import { type BusLine, FrameKind, NoticeCode } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { FakeProvider, metricValue } from './helpers/fake-provider.js';
import { gw1, keys, runnerHarness } from './helpers/runner-harness.js';

/** Server frame seqs are `epoch · 2³² + n`. */
const STRIDE = 2 ** 32;
const SID = 'sess_unit_reclaim';

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
});

async function started(clientAttached = true) {
  const provider = await FakeProvider.start();
  providers.push(provider);
  const h = runnerHarness(provider.url, { state: { sid: SID, clientAttached } });
  runners.push(h.runner);
  await h.runner.start();
  await provider.waitForEvents(1, 1);
  return { provider, ...h };
}

/** The M lines of a stream as [epoch, seq, parsed payload]. */
function messages(writer: MemoryBusWriter, stream: string): Array<[number, number, Record<string, unknown>]> {
  return writer
    .lines(stream)
    .filter((l): l is Extract<BusLine, { op: 'M' }> => l.op === 'M')
    .map((l) => [l.epoch, l.seq, JSON.parse(l.payload.toString('utf8')) as Record<string, unknown>]);
}

const textDelta = (delta: string) => ({ type: 'response.output_text.delta', delta });
const deltaOf = (msg: Record<string, unknown>) =>
  (msg.response as { delta: { content: string } }).delta.content;
const recovered = expect.objectContaining({
  type: 'session.notice',
  notice: { code: 'session_recovered', message: NoticeCode.session_recovered.message },
});

describe('SessionRunner.reclaim', () => {
  it('binds with the new epoch, re-sends the outbound buffer under it with the original seqs, keeps the provider session', async () => {
    const { provider, runner, writer } = await started();
    provider.send(1, textDelta('a'));
    provider.send(1, textDelta('b'));
    await waitFor(() => messages(writer, gw1).length === 2, { message: 'two frames sent' });
    runner.apply(1, FrameKind.Audio, Buffer.from('AAAA'));
    runner.apply(2, FrameKind.Audio, Buffer.from('BBBB'));
    writer.clear();

    runner.reclaim({ ...runner.state, epoch: 2 });
    expect(runner.state.epoch).toBe(2);
    const lines = writer.lines(gw1);
    expect(lines[0]).toEqual({ op: 'B', sid: SID, wid: 'wk-1', epoch: 2 });
    expect(lines.every((l) => !('epoch' in l) || l.epoch === 2)).toBe(true);
    const sent = messages(writer, gw1);
    expect(sent.map(([epoch, seq]) => [epoch, seq])).toEqual([
      [2, STRIDE + 1],
      [2, STRIDE + 2],
      [2, 2 * STRIDE + 1],
    ]);
    expect(sent.slice(0, 2).map(([, , m]) => deltaOf(m))).toEqual(['a', 'b']);
    expect(sent[2]![2]).toEqual(recovered);

    // Same provider session: no new connection, repeats still dropped, new frames go on on it.
    runner.apply(2, FrameKind.Audio, Buffer.from('BBBB'));
    runner.apply(3, FrameKind.Audio, Buffer.from('CCCC'));
    const events = await provider.waitForEvents(1, 4);
    expect(events.filter((e) => e.type === 'input_audio_buffer.append').map((e) => e.event.audio)).toEqual([
      'AAAA',
      'BBBB',
      'CCCC',
    ]);
    expect(provider.requests).toHaveLength(1);
    // Later frames are numbered in the new epoch's range.
    provider.send(1, textDelta('c'));
    await waitFor(() => messages(writer, gw1).length === 4, { message: 'the next frame' });
    expect(messages(writer, gw1)[3]!.slice(0, 2)).toEqual([2, 2 * STRIDE + 2]);
  });

  it('a detached session sends nothing on reclaim; the resume then binds with the new epoch and replays', async () => {
    const { provider, runner, writer, registry } = await started(false);
    provider.send(1, textDelta('a'));
    await waitFor(async () => (await metricValue(registry, 'rtv_worker_frames_to_client_total')) === 1, {
      message: 'one frame kept for the detached client',
    });
    runner.reclaim({ ...runner.state, epoch: 2 });
    expect(writer.lines(gw1)).toEqual([]);

    runner.resume('gw-2', 0);
    const gw2 = keys.gatewayOut('gw-2');
    expect(writer.lines(gw2)[0]).toEqual({ op: 'B', sid: SID, wid: 'wk-1', epoch: 2 });
    const sent = messages(writer, gw2);
    expect(sent.every(([epoch]) => epoch === 2)).toBe(true);
    expect(sent.map(([, , m]) => m.type)).toEqual(['response.delta', 'session.notice', 'session.notice']);
    expect(sent[1]![2]).toEqual(recovered);
  });
});

describe('SessionRunner.resendAfter', () => {
  it('sends the frames kept after the given seq to the asking gateway again, with the current epoch; a stale gateway gets nothing', async () => {
    const { provider, runner, writer, registry } = await started();
    for (const d of ['a', 'b', 'c']) provider.send(1, textDelta(d));
    await waitFor(() => messages(writer, gw1).length === 3, { message: 'three frames sent' });
    writer.clear();

    runner.resendAfter('gw-1', STRIDE + 1);
    const sent = messages(writer, gw1);
    expect(sent.map(([epoch, seq, m]) => [epoch, seq, deltaOf(m)])).toEqual([
      [1, STRIDE + 2, 'b'],
      [1, STRIDE + 3, 'c'],
    ]);
    // No bind, no notice: nothing else changes.
    expect(writer.lines(gw1).every((l) => l.op === 'M')).toBe(true);
    expect(await metricValue(registry, 'rtv_worker_gap_resent_frames_total')).toBe(2);

    writer.clear();
    runner.resendAfter('gw-9', 0);
    expect(writer.streamNames()).toEqual([]);
  });
});
