// Client sockets for the load generator: plain `ws` clients, no compression, optionally bound to one of
// several loopback source addresses (each address has its own ~28k ephemeral ports toward one server).
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { VoiceRoute } from '../report/types.js';

export interface ConnectOptions {
  /** Source address, e.g. 127.0.0.12; the kernel picks one when unset. */
  localAddress?: string | undefined;
  timeoutMs: number;
  /** Extra upgrade request headers (the OpenAI-compatible route's `Authorization: Bearer …`). */
  headers?: Record<string, string> | undefined;
  /** PEM of a private CA that a `wss://` server's certificate chains to (remote mode, `--ca-file`). */
  ca?: string | undefined;
}

/**
 * A connect that did not become a usable session. `reason` is short and stable, so failures can be counted by
 * it: `HTTP 401 unauthorized` (a refused upgrade and its body, which carries the error code), `close 4429`,
 * `error rate_limited, close 1008`, `ECONNREFUSED`, `timeout`.
 */
export class ConnectFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectFailure';
  }
}

/**
 * The error code a refused upgrade's body carries: `{"error":{"code":"unauthorized",…}}` from the gateway, or a
 * bare word (`unauthorized`) from a proxy; at most 64 characters of anything else.
 */
function upgradeErrorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return parsed.error.code;
  } catch {
    // not JSON: the text itself
  }
  return body.trim().replace(/\s+/g, ' ').slice(0, 64);
}

/** A refused upgrade as a failure counted by its status and error code (`HTTP 401 unauthorized`). */
function refusedUpgrade(res: IncomingMessage): Promise<ConnectFailure> {
  return new Promise((resolve) => {
    let body = '';
    const done = () => {
      const code = upgradeErrorCode(body);
      const reason = `HTTP ${res.statusCode}${code ? ` ${code}` : ''}`;
      resolve(new ConnectFailure(reason, `upgrade refused: ${reason}`));
    };
    const timer = setTimeout(done, 1000);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.once('end', () => {
      clearTimeout(timer);
      done();
    });
    res.once('error', () => {
      clearTimeout(timer);
      done();
    });
  });
}

export function connect(
  url: string,
  { localAddress, timeoutMs, headers, ca }: ConnectOptions,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(localAddress ? { localAddress } : {}),
      ...(headers ? { headers } : {}),
      ...(ca ? { ca } : {}),
    });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners('open');
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      settled = true;
      ws.removeListener('error', onError);
      ws.on('error', () => {});
      resolve(ws);
    });
    const onError = (err: Error & { code?: string }) => {
      // Socket and TLS errors carry a code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE); ws's own
      // handshake timeout does not.
      const reason = err.code ?? (/timed out/i.test(err.message) ? 'timeout' : 'error');
      fail(new ConnectFailure(reason, err.message));
    };
    ws.on('error', onError);
    ws.once('unexpected-response', (_req, res) => {
      void refusedUpgrade(res).then(fail);
    });
  });
}

/**
 * Where one load session connects and with what credential. Local runs: the seed route's anonymous form
 * (`<url>/<prefix><index>`), or on `/v1/realtime` a per-session gateway credential `bench-<index>` (accepted as
 * an anonymous user when the stack has no verifier). Remote runs (`tokens` set): the URL as given, with
 * `Authorization: Bearer <token>`, the tokens taken in turn by session index, as the protocol's server clients
 * authenticate. Remote runs on the anonymous route (`user` set): `<url>/<user>-<prefix><index>`, a user per session.
 */
export interface Endpoint {
  url: string;
  route: VoiceRoute;
  tokens?: string[] | undefined;
  /** Remote mode on the anonymous route: the user named by `--url`, extended per session. */
  user?: string | undefined;
  ca?: string | undefined;
}

export function sessionTarget(
  endpoint: Endpoint,
  index: number,
  userPrefix: string,
): { url: string; headers?: Record<string, string> } {
  const tokens = endpoint.tokens;
  if (tokens && tokens.length > 0) {
    return { url: endpoint.url, headers: { Authorization: `Bearer ${tokens[index % tokens.length]}` } };
  }
  if (endpoint.route === 'openai') {
    return { url: endpoint.url, headers: { Authorization: `Bearer bench-${index}` } };
  }
  const user = endpoint.user === undefined ? '' : `${endpoint.user}-`;
  return { url: `${endpoint.url}/${encodeURIComponent(`${user}${userPrefix}${index}`)}` };
}

/** The key a failure is counted under: a {@link ConnectFailure}'s reason, else `other`. */
export function failureReason(err: unknown): string {
  return err instanceof ConnectFailure ? err.reason : 'other';
}

/** The code of a seed or OpenAI `error` message (`{"type":"error","error":{"code":…}}`), if `data` is one. */
export function errorCode(data: Buffer): string | undefined {
  if (!data.subarray(0, 24).toString('latin1').includes('"error"')) return undefined;
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { type?: unknown; error?: { code?: unknown } };
    if (parsed.type !== 'error') return undefined;
    return typeof parsed.error?.code === 'string' ? parsed.error.code : 'error';
  } catch {
    return undefined;
  }
}

/** `close 4429`, or `error rate_limited, close 1008` when an error message came first. */
export function closeReason(code: number, lastError: string | undefined): string {
  return lastError ? `error ${lastError}, close ${code}` : `close ${code}`;
}

export interface OpenManyResult {
  opened: number;
  failed: number;
  /** The first failure's message, enough to tell a refused upgrade from a timeout. */
  firstError?: string;
  /** Failures by reason (`HTTP 401 unauthorized`, `close 4429`, `timeout`, …). */
  failures: Record<string, number>;
}

/**
 * A ramp: connect `index` of `total` may start `index / total × rampMs` after the ramp began, so a deployed
 * ingress sees a steady rate of new connections instead of a burst. 0 without a ramp.
 */
export function rampDelay(index: number, total: number, rampMs: number): number {
  return rampMs > 0 && total > 0 ? (index / total) * rampMs : 0;
}

/**
 * Runs `open(i)` for i in [0, count) with at most `concurrency` in flight; `startAfterMs(i)`, when given, holds
 * open i back until that long after the call (the ramp).
 */
export async function openMany(
  count: number,
  concurrency: number,
  open: (i: number) => Promise<void>,
  startAfterMs?: (i: number) => number,
): Promise<OpenManyResult> {
  const result: OpenManyResult = { opened: 0, failed: 0, failures: {} };
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const wait = startAfterMs ? t0 + startAfterMs(i) - performance.now() : 0;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        await open(i);
        result.opened++;
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
        const reason = failureReason(err);
        result.failures[reason] = (result.failures[reason] ?? 0) + 1;
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
