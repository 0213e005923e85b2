// The provider socket's writes: every event sent in one turn of the event loop leaves in one write system call
// (a bus batch carries several frames of a session when the worker catches up), in order, with nothing held
// past the turn. Real sockets: a ws server on loopback and the worker's ProviderConnection.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ProviderConnection } from '../src/upstream/provider-connection.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A provider that greets with session.created and keeps every message it gets. */
async function provider(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server = wss;
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'session.created', session: { id: 'sess_1' } }));
    ws.on('message', (data) => received.push(data.toString()));
  });
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/v1/realtime`, received };
}

/** Counts the write system calls the socket's stream layer makes (one per `_write` or `_writev`). */
function countWrites(socket: Socket): { single: number; vectored: number } {
  const counts = { single: 0, vectored: 0 };
  const s = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...args) => {
    counts.single++;
    write(...args);
  };
  s._writev = (...args) => {
    counts.vectored++;
    writev(...args);
  };
  return counts;
}

describe('ProviderConnection writes', () => {
  it('sends every event of one turn in one write, in order, and nothing waits past the turn', async () => {
    const { url, received } = await provider();
    const conn = new ProviderConnection(
      { url, model: 'gpt-realtime', shape: 'ga', apiKey: 'sk-test' },
      { onEvent: () => undefined, onClose: () => undefined },
    );
    await conn.connect();
    try {
      const socket = (conn as unknown as { ws: { _socket: Socket } }).ws._socket;
      const writes = countWrites(socket);
      const events = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({ type: 'input_audio_buffer.append', audio: `frame-${i}` }),
      );
      for (const e of events) expect(conn.send(e)).toBe(true);
      // Still in the same turn: held, not yet written.
      expect(writes).toEqual({ single: 0, vectored: 0 });
      await new Promise((r) => setImmediate(r));
      expect(writes).toEqual({ single: 0, vectored: 1 });
      // A later turn's event goes out on its own.
      conn.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
      await new Promise((r) => setImmediate(r));
      expect(writes.single + writes.vectored).toBe(2);
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 5000;
        const check = () =>
          received.length >= 21
            ? resolve()
            : Date.now() > deadline
              ? reject(new Error('not received'))
              : setTimeout(check, 10);
        check();
      });
      expect(received).toEqual([...events, JSON.stringify({ type: 'input_audio_buffer.commit' })]);
    } finally {
      conn.close();
    }
  });
});
