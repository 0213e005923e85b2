// Numbered audio frames through a stack with the echo engine: every frame must reach the provider in order,
// once, and come back in order to the socket that sent it and nowhere else.
import { WsTestClient, waitFor } from '@rtv/testing';
import { expect } from 'vitest';
import type { Stack } from './stack.js';

/** A 20 ms PCM16 frame whose first bytes carry the client number and the frame number. */
export function numberedFrame(client: number, n: number): string {
  const buf = Buffer.alloc(960);
  buf.writeUInt32LE(client, 0);
  buf.writeUInt32LE(n, 4);
  return buf.toString('base64');
}

export function tagOf(base64: string): [number, number] {
  const buf = Buffer.from(base64, 'base64');
  return [buf.readUInt32LE(0), buf.readUInt32LE(4)];
}

/** Every `input_audio_buffer.append` the engine got, by client number, in arrival order. */
export function recordUpstreamFrames(stack: Stack): Map<number, number[]> {
  const upstream = new Map<number, number[]>();
  stack.engine.events.on('client-event', (_conn: string, event: { type: string; audio?: string }) => {
    if (event.type !== 'input_audio_buffer.append' || !event.audio) return;
    const [client, n] = tagOf(event.audio);
    const list = upstream.get(client) ?? [];
    list.push(n);
    upstream.set(client, list);
  });
  return upstream;
}

/** The numbers of the frames echoed to `client`'s socket, checking each belongs to `index`. */
export function echoedNumbers(client: WsTestClient, index: number): number[] {
  const echoed = client
    .all()
    .filter((m) => (m as { type: string }).type === 'response.audio')
    .map((m) => tagOf((m as { response: { audio: string } }).response.audio));
  expect(echoed.every(([c]) => c === index)).toBe(true);
  return echoed.map(([, n]) => n);
}

/**
 * Opens `clients` sessions spread over the stack's gateways (client i on gateway i mod n), waits until
 * `ready()` says they are placed, sends `frames` numbered frames each at once, and checks both directions.
 * Returns the open clients.
 */
export async function routeNumberedFrames(
  stack: Stack,
  opts: { clients: number; frames: number; ready?: () => boolean | Promise<boolean> },
): Promise<WsTestClient[]> {
  const upstream = recordUpstreamFrames(stack);
  const indexes = Array.from({ length: opts.clients }, (_, i) => i);
  const clients = await Promise.all(
    indexes.map((i) => WsTestClient.connect(stack.wsUrl(`user-${i}`, i % stack.gateways.length))),
  );
  await Promise.all(clients.map((c) => c.nextOfType('session.created')));
  if (opts.ready) {
    await waitFor(opts.ready, { message: 'sessions placed', timeoutMs: 10_000 });
  }
  for (let n = 1; n <= opts.frames; n++) {
    for (const [i, c] of clients.entries()) {
      c.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_audio_buffer', audio: numberedFrame(i, n) },
      });
    }
  }
  const expected = Array.from({ length: opts.frames }, (_, i) => i + 1);
  await waitFor(() => indexes.every((i) => (upstream.get(i)?.length ?? 0) >= opts.frames), {
    message: 'every frame reached the provider',
    timeoutMs: 20_000,
  });
  for (const i of indexes) expect(upstream.get(i)).toEqual(expected);
  await waitFor(
    () =>
      clients.every(
        (c) => c.all().filter((m) => (m as { type: string }).type === 'response.audio').length >= opts.frames,
      ),
    { message: 'every echo delivered', timeoutMs: 20_000 },
  );
  for (const [i, c] of clients.entries()) expect(echoedNumbers(c, i)).toEqual(expected);
  return clients;
}
