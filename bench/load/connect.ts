// Client sockets for the load generator: plain `ws` clients, no compression, optionally bound to one of
// several loopback source addresses (each address has its own ~28k ephemeral ports toward one server).
import WebSocket from 'ws';

export interface ConnectOptions {
  /** Source address, e.g. 127.0.0.12; the kernel picks one when unset. */
  localAddress?: string | undefined;
  timeoutMs: number;
  /** Extra upgrade request headers (the OpenAI-compatible route's `Authorization: Bearer …`). */
  headers?: Record<string, string> | undefined;
}

export function connect(
  url: string,
  { localAddress, timeoutMs, headers }: ConnectOptions,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(localAddress ? { localAddress } : {}),
      ...(headers ? { headers } : {}),
    });
    const fail = (err: Error) => {
      ws.removeAllListeners('open');
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      ws.removeListener('error', fail);
      ws.on('error', () => {});
      resolve(ws);
    });
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

export interface OpenManyResult {
  opened: number;
  failed: number;
  /** The first failure's message, enough to tell a refused upgrade from a timeout. */
  firstError?: string;
}

/** Runs `open(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function openMany(
  count: number,
  concurrency: number,
  open: (i: number) => Promise<void>,
): Promise<OpenManyResult> {
  const result: OpenManyResult = { opened: 0, failed: 0 };
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      try {
        await open(i);
        result.opened++;
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return result;
}

/** Closes every socket (close handshake, then terminate after `graceMs`) and waits for all of them. */
export async function closeAll(sockets: Iterable<WebSocket>, graceMs = 5000): Promise<void> {
  const waits: Array<Promise<void>> = [];
  for (const ws of sockets) {
    if (ws.readyState === WebSocket.CLOSED) continue;
    waits.push(
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => ws.terminate(), graceMs);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'bench done');
        else ws.terminate();
      }),
    );
  }
  await Promise.all(waits);
}
