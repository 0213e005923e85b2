// A hostile or broken provider cannot inject bus lines through audio deltas: the worker splices a delta's
// base64 into the client's frame and its bus line as is (DESIGN §4.5), and bus lines are newline-separated.
import type { BusLine } from '@rtv/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { FakeProvider, metricValue } from './helpers/fake-provider.js';
import { gw1, runnerHarness } from './helpers/runner-harness.js';

const SID = 'sess_unit_2';
/** What an attacker would like the gateway to read: a close line for the session, then a forged message. */
const INJECTED = `AAAA\nX\t${SID}\t1\t4000\tpwned\nM\t${SID}\t1\t99\t{"type":"response.delta"}`;

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
});

describe('provider audio deltas and the bus', () => {
  it('drops and counts a delta with a newline on every path; the bus lines are exactly the expected ones', async () => {
    const provider = await FakeProvider.start();
    providers.push(provider);
    const h = runnerHarness(provider.url);
    runners.push(h.runner);
    // Every line as written, before the batch join and split that `lines()` does.
    const written: Buffer[] = [];
    const write = h.writer.write.bind(h.writer);
    h.writer.write = (stream, line) => {
      if (stream === gw1) written.push(Buffer.from(line));
      write(stream, line);
    };
    await h.runner.start();

    provider.send(1, { type: 'response.output_audio.delta', response_id: 'r', item_id: 'i', delta: 'AAAA' });
    // The type leads the event (fast path): the JSON text carries the newline escaped as \n.
    provider.send(1, {
      type: 'response.output_audio.delta',
      response_id: 'r',
      item_id: 'i',
      delta: INJECTED,
    });
    // Beta shape, and the newline as a JSON escape of its own.
    provider.send(1, { type: 'response.audio.delta', delta: 'AAAA\\nBBBB' });
    // The type far from the start: only the full parse sees the event.
    provider.send(1, { padding: 'x'.repeat(200), type: 'response.output_audio.delta', delta: INJECTED });
    // A raw newline and tab inside the JSON string (not valid JSON): never forwarded either.
    provider.sendRaw(1, `{"type":"response.output_audio.delta","delta":"${INJECTED}"}`);
    provider.send(1, { type: 'response.output_audio.delta', delta: 'BBBB' });

    await h.waitForMessage((m) => (m.response as { audio?: string } | undefined)?.audio === 'BBBB');
    expect(written.map((l) => String.fromCharCode(l[0]!))).toEqual(['B', 'M', 'M']);
    for (const line of written) expect(line.includes(0x0a)).toBe(false);
    const lines: BusLine[] = h.writer.lines(gw1);
    expect(lines.map((l) => l.op)).toEqual(['B', 'M', 'M']);
    expect(h.messages()).toEqual([
      { type: 'response.audio', response: { audio: 'AAAA', timestamp: expect.any(Number) } },
      { type: 'response.audio', response: { audio: 'BBBB', timestamp: expect.any(Number) } },
    ]);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'invalid_audio_delta' }),
    ).toBe(3);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'unparseable_event' }),
    ).toBe(1);
  });
});
