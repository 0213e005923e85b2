// OpenAI's own Realtime clients pointed at a test gateway's `/v1/realtime`: openai-node's `OpenAIRealtimeWS` and
// openai-agents-js' `RealtimeSession` over its WebSocket transport, each with a log of the server events it
// handed to the application, plus the gateway credentials and the speech the end-to-end tests feed them.
import net from 'node:net';
import { OpenAIRealtimeWebSocket, type RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';
import { makeSpeechWav } from '@rtv/testing';
import { SignJWT } from 'jose';
import OpenAI from 'openai';
import type { OpenAIRealtimeError } from 'openai/realtime/internal-base';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { TEST_JWT_SECRET } from './stack.js';

/** A server event as the SDK handed it over. */
export type ServerEvent = { type: string; [key: string]: unknown };

/** PCM16 mono 24 kHz: bytes per millisecond. */
export const PCM_BYTES_PER_MS = 48;
const WAIT_MS = 10_000;

/**
 * Server events in arrival order, with waits that name what did arrive when they time out. `next` reads
 * forward from a cursor, so a test can check that events came in a given order.
 */
export class EventLog {
  readonly events: ServerEvent[] = [];
  /** What happened to the connection itself (state changes, close codes), for the timeout message. */
  private readonly notes: string[] = [];
  private readonly startedMs = Date.now();
  private cursor = 0;
  private wakers: (() => void)[] = [];

  readonly push = (event: { type: string }): void => {
    this.events.push(event as ServerEvent);
    for (const wake of this.wakers.splice(0)) wake();
  };

  /** Records a connection-level happening (not a server event), stamped with the ms since the log began. */
  note(what: string): void {
    this.notes.push(`${what} at +${Date.now() - this.startedMs} ms`);
    for (const wake of this.wakers.splice(0)) wake();
  }

  /** Resolves once `check` holds (re-checked on every event), else fails listing the events seen. */
  async until(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next unread event of `type`; the events before it are passed over. */
  async next(type: string, timeoutMs = WAIT_MS): Promise<ServerEvent> {
    let found: ServerEvent | undefined;
    await this.until(
      () => {
        while (!found && this.cursor < this.events.length) {
          const event = this.events[this.cursor++]!;
          if (event.type === type) found = event;
        }
        return found !== undefined;
      },
      type,
      timeoutMs,
    );
    return found!;
  }

  of(type: string): ServerEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Everything seen, for a failure message: the events (deltas counted, not listed) and the connection notes. */
  describe(): string {
    const deltas = this.events.length - this.summary().length;
    const connection = this.notes.length > 0 ? this.notes.join(', ') : 'nothing';
    return `got ${this.summary().join(', ') || 'no events'} (+${deltas} deltas) in ${Date.now() - this.startedMs} ms; connection: ${connection}`;
  }

  /** Event types without the delta streams, for readable failures and exact sequences. */
  summary(): string[] {
    return this.events.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
  }

  /** Bytes of reply audio (`response.output_audio.delta`) received so far. */
  audioBytes(): number {
    return this.of('response.output_audio.delta').reduce(
      (n, e) => n + Buffer.from(String(e.delta), 'base64').length,
      0,
    );
  }
}

/** A JWT the test gateways accept for `user`, with extra claims (the policy class: `{ rtv_class: 'strict' }`). */
export function gatewayToken(user: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** An openai-node Realtime client with what it received: every event, its errors and its socket's close. */
export interface NodeRealtimeClient {
  rt: OpenAIRealtimeWS;
  log: EventLog;
  /** `error` server events and transport failures, as the SDK reported them. */
  errors: OpenAIRealtimeError[];
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
}

/**
 * openai-node as an application builds it: `baseURL` at the gateway's `/v1`, the gateway credential as the
 * "API key". The SDK always builds a `wss://` URL; the gateway listens in plain text, so `ws` gets the TCP
 * connection through the SDK's `options.createConnection` (everything above TCP is the SDK's own). Resolves
 * once the socket is open (an upgrade refused with HTTP rejects: use {@link refusedUpgrade} for those).
 */
export async function connectNodeClient(
  port: number,
  apiKey: string,
  model = 'gpt-realtime',
): Promise<NodeRealtimeClient> {
  const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/v1` });
  const rt = new OpenAIRealtimeWS(
    { model, options: { createConnection: () => net.connect(port, '127.0.0.1') } },
    client,
  );
  const log = new EventLog();
  const errors: OpenAIRealtimeError[] = [];
  rt.on('event', log.push);
  rt.on('error', (error) => errors.push(error));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.once('close', (code, reason) => {
      log.note(`closed ${code} ${reason.toString()}`);
      resolve({ code, reason: reason.toString() });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
    );
    rt.socket.once('error', reject);
  });
  return { rt, log, errors, closed, isOpen: () => rt.socket.readyState === rt.socket.OPEN };
}

/** What the gateway answered to an upgrade it refused: the HTTP status and the JSON body. */
export interface RefusedUpgrade {
  url: string;
  status: number;
  body: { error?: { code?: string; message?: string } };
}

/**
 * Opens openai-node's client with `apiKey` and reads the gateway's HTTP refusal through `ws`'s
 * `unexpected-response` (the SDK itself only reports "Unexpected server response"). Rejects if the upgrade
 * succeeds.
 */
export function refusedUpgrade(port: number, apiKey: string): Promise<RefusedUpgrade> {
  const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/v1` });
  const rt = new OpenAIRealtimeWS(
    { model: 'gpt-realtime', options: { createConnection: () => net.connect(port, '127.0.0.1') } },
    client,
  );
  rt.on('error', () => {
    // The refusal is read below; the SDK's report of it adds nothing.
  });
  return new Promise((resolve, reject) => {
    rt.socket.once('open', () => {
      rt.close();
      reject(new Error('the upgrade was accepted'));
    });
    rt.socket.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        req.destroy();
        const text = Buffer.concat(chunks).toString();
        resolve({ url: rt.url.toString(), status: res.statusCode ?? 0, body: JSON.parse(text || '{}') });
      });
    });
  });
}

/** A `RealtimeSession` with what it reported: transport events, errors and finished replies. */
export interface AgentClient {
  session: RealtimeSession;
  log: EventLog;
  /** The codes of the server `error` events the session reported (other failures as their message). */
  errors: string[];
  /** Final texts of finished responses (`agent_end`), in order. */
  replies: string[];
}

/** The code inside what `RealtimeSession` emits as `error`: `{ error: <server error event> }` or an Error. */
function errorCodeOf(reported: unknown): string {
  const event = (reported as { error?: { error?: { code?: unknown } } } | undefined)?.error;
  const code = event?.error?.code;
  if (typeof code === 'string') return code;
  return event instanceof Error ? event.message : JSON.stringify(event);
}

/**
 * openai-agents-js as its documentation shows for a custom endpoint: the WebSocket transport with the gateway's
 * URL, the gateway credential as `apiKey`, and `model` set (the SDK's default model, sent in its first
 * `session.update`, is not one a policy's model list knows). Resolves once connected: the SDK has sent the
 * agent's configuration.
 */
export async function connectAgent(
  port: number,
  agent: RealtimeAgent,
  apiKey: string,
  query = 'model=gpt-realtime',
): Promise<AgentClient> {
  const transport = new OpenAIRealtimeWebSocket({ url: `ws://127.0.0.1:${port}/v1/realtime?${query}` });
  const session = new RealtimeSession(agent, { transport, model: 'gpt-realtime' });
  const log = new EventLog();
  const errors: string[] = [];
  const replies: string[] = [];
  transport.on('*', log.push);
  transport.on('connection_change', (status) => log.note(status));
  session.on('error', (reported) => {
    log.note(`error ${errorCodeOf(reported)}`);
    errors.push(errorCodeOf(reported));
  });
  session.on('agent_end', (_context, _agent, text) => replies.push(text));
  await session.connect({ apiKey });
  return { session, log, errors, replies };
}

let spokenQuestion: Promise<Buffer> | undefined;

/**
 * A spoken question as PCM16 24 kHz (espeak-ng when installed, else the synthetic voice), between 1 s of
 * silence before and 1.2 s after, so server VAD sees exactly one turn and its end.
 */
export function spokenTurn(): Promise<Buffer> {
  spokenQuestion ??= makeSpeechWav('What is the weather like in Paris today').then((speech) =>
    Buffer.concat([Buffer.alloc(1000 * PCM_BYTES_PER_MS), speech.pcm, Buffer.alloc(1200 * PCM_BYTES_PER_MS)]),
  );
  return spokenQuestion;
}

/** `pcm` in 100 ms slices, the size real clients append. */
export function audioChunks(pcm: Buffer, ms = 100): Buffer[] {
  const size = ms * PCM_BYTES_PER_MS;
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(pcm.subarray(i, i + size));
  return out;
}
