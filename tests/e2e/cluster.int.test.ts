// Two gateways and two workers in one process: clients on both gateways, sessions spread over both workers,
// and every frame reaches the provider in order, once, and comes back to the right socket.
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './helpers/stack.js';

const FRAMES = 1000;

/** A 20 ms PCM16 frame whose first bytes carry the client number and the frame number. */
function numberedFrame(client: number, n: number): string {
  const buf = Buffer.alloc(960);
  buf.writeUInt32LE(client, 0);
  buf.writeUInt32LE(n, 4);
  return buf.toString('base64');
}

function tagOf(base64: string): [number, number] {
  const buf = Buffer.from(base64, 'base64');
  return [buf.readUInt32LE(0), buf.readUInt32LE(4)];
}

describe('two gateways, two workers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gateways: 2,
      workers: 2,
      engine: { mode: 'echo' },
      // Capacity 2 each, four sessions: both workers must take some.
      workerEnv: { RTV_WORKER_CAPACITY: '2' },
      // Every frame is sent at once here (a routing test, not a rate test).
      gatewayEnv: { RTV_MAX_MESSAGES_PER_S: '100000', RTV_MAX_BYTES_PER_S: '100000000' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('routes 1,000 numbered frames per session upstream in order and back to the right socket', async () => {
    const upstream = new Map<number, number[]>();
    stack.engine.events.on('client-event', (_conn: string, event: { type: string; audio?: string }) => {
      if (event.type !== 'input_audio_buffer.append' || !event.audio) return;
      const [client, n] = tagOf(event.audio);
      const list = upstream.get(client) ?? [];
      list.push(n);
      upstream.set(client, list);
    });
    const clients = await Promise.all(
      [0, 1, 2, 3].map((i) => WsTestClient.connect(stack.wsUrl(`user-${i}`, i % 2))),
    );
    await Promise.all(clients.map((c) => c.nextOfType('session.created')));
    await waitFor(() => stack.workers.every((w) => w.sessions() === 2), {
      message: 'each worker owns two sessions',
      timeoutMs: 10_000,
    });
    for (let n = 1; n <= FRAMES; n++) {
      for (const [i, c] of clients.entries()) {
        c.send({
          type: 'conversation.item.input',
          conversation_item_input: { type: 'input_audio_buffer', audio: numberedFrame(i, n) },
        });
      }
    }
    const expected = Array.from({ length: FRAMES }, (_, i) => i + 1);
    await waitFor(() => [0, 1, 2, 3].every((i) => (upstream.get(i)?.length ?? 0) >= FRAMES), {
      message: 'every frame reached the provider',
      timeoutMs: 20_000,
    });
    for (let i = 0; i < 4; i++) expect(upstream.get(i)).toEqual(expected);

    // The echo comes back on the socket that sent it, in order, and nowhere else.
    await waitFor(
      () =>
        clients.every(
          (c) => c.all().filter((m) => (m as { type: string }).type === 'response.audio').length >= FRAMES,
        ),
      { message: 'every echo delivered', timeoutMs: 20_000 },
    );
    clients.forEach((c, i) => {
      const echoed = c
        .all()
        .filter((m) => (m as { type: string }).type === 'response.audio')
        .map((m) => tagOf((m as { response: { audio: string } }).response.audio));
      expect(echoed.every(([client]) => client === i)).toBe(true);
      expect(echoed.map(([, n]) => n)).toEqual(expected);
    });

    const status = (await (await fetch(stack.httpUrl('/api/v1/streaming/realtime/status', 1))).json()) as {
      connections: number;
      gateways: unknown[];
      workers: unknown[];
    };
    expect(status.gateways).toHaveLength(2);
    expect(status.workers).toHaveLength(2);
    await Promise.all(clients.map((c) => c.close()));
  }, 60_000);
});
