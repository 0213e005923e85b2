// A hostile or broken provider against a running stack (gateway, worker on a real Redis, a scripted provider on
// loopback), seen by a real WebSocket client: an audio delta carrying a newline and a forged bus line is
// dropped and counted, nothing injected reaches the client or closes its socket, and text deltas with newlines
// arrive intact as JSON strings. The worker splices audio deltas into bus lines as bytes, and bus lines are
// newline-separated (docs/architecture.md, bus envelope).
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeProvider } from '../../services/session-worker/test/helpers/fake-provider.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { scrape, total } from '../observability/helpers/prom.js';

type Message = { type: string; response?: { audio?: string; delta?: { content?: string } } };

describe('provider deltas with newlines (end to end)', () => {
  let stack: Stack | undefined;
  let provider: FakeProvider | undefined;
  afterEach(async () => {
    await stack?.stop();
    await provider?.stop();
    stack = undefined;
    provider = undefined;
  });

  it('drops an audio delta that would inject bus lines; text deltas keep their newlines', async () => {
    provider = await FakeProvider.start();
    stack = await startStack({ workerEnv: { OPENAI_REALTIME_URL: provider.url } });
    const ws = await WsTestClient.connect(stack.wsUrl('listener'));
    const { session } = await ws.nextOfType<{ session: { id: string } }>('session.created');
    // The worker's restore update is the first event of a usable provider session.
    await provider.waitForEvents(1, 1);
    const sid = session.id;
    // What the gateway would read as lines of the session's own epoch (1): a forged message, then a close.
    const forged = `\nM\t${sid}\t1\t4294967395\t{"type":"response.delta","response":{"delta":{"content":"pwned"}}}`;
    const injected = `AAAA${forged}\nX\t${sid}\t1\t4000\tpwned`;

    provider.send(1, {
      type: 'response.output_audio.delta',
      response_id: 'r1',
      item_id: 'i1',
      delta: injected,
    });
    provider.send(1, { type: 'response.audio.delta', delta: `AAAA\n${injected}` });
    const text = 'line one\nline two\n{"type":"error","error":{"code":"internal_error"}}\n';
    provider.send(1, { type: 'response.output_audio_transcript.delta', delta: text });
    provider.send(1, { type: 'response.output_text.delta', delta: `\n${forged}` });
    provider.send(1, {
      type: 'response.output_audio.delta',
      response_id: 'r1',
      item_id: 'i1',
      delta: 'BBBB',
    });

    await ws.next((m) => (m as Message).response?.audio === 'BBBB', 10_000);
    const received = ws.all() as Message[];
    expect(received.map((m) => m.type)).toEqual([
      'session.created',
      'response.delta',
      'response.delta',
      'response.audio',
    ]);
    expect(received[1]!.response?.delta?.content).toBe(text);
    expect(received[2]!.response?.delta?.content).toBe(`\n${forged}`);
    expect(received.some((m) => m.type === 'response.delta' && m.response?.delta?.content === 'pwned')).toBe(
      false,
    );

    const metrics = await waitFor(
      async () => {
        const samples = await scrape(`http://127.0.0.1:${stack!.workers[0]!.adminPort}/metrics`);
        return total(samples, 'rtv_worker_upstream_errors_total', { code: 'invalid_audio_delta' }) > 0
          ? samples
          : undefined;
      },
      { message: 'the dropped deltas counted' },
    );
    expect(total(metrics, 'rtv_worker_upstream_errors_total', { code: 'invalid_audio_delta' })).toBe(2);

    // The session is still open and working: a later good delta arrives (an injected close line would have
    // closed the socket before it, and `next` fails on a closed socket).
    provider.send(1, {
      type: 'response.output_audio.delta',
      response_id: 'r1',
      item_id: 'i1',
      delta: 'CCCC',
    });
    await ws.next((m) => (m as Message).response?.audio === 'CCCC');
    expect((ws.all() as Message[]).map((m) => m.type).slice(4)).toEqual(['response.audio']);
    await ws.close();
  });
});
