import type { RealtimeUsage } from '@rtv/protocol/openai-realtime';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { type LocalEngine, type LocalEngineOptions, startLocalEngine } from '../src/index.js';

export type Json = Record<string, unknown> & { type: string };

/** Loose views of server payloads for assertions (the engine's output is what is under test). */
export interface TestPart {
  type: string;
  text?: string;
  transcript?: string | null;
  audio?: string;
}
export interface TestItem {
  id: string;
  type: string;
  role?: string;
  status?: string;
  content: TestPart[];
  [k: string]: unknown;
}
export interface TestResponse {
  id: string;
  status: string;
  status_details: unknown;
  conversation_id: string | null;
  output: TestItem[];
  usage: RealtimeUsage;
  [k: string]: unknown;
}
export const responseOf = (event: Json | undefined): TestResponse => event?.response as TestResponse;
export const itemOf = (event: Json | undefined): TestItem => event?.item as TestItem;
/** Transcript (or text) of the first part of the first output item. */
export function replyOf(response: TestResponse): string | null | undefined {
  const part = response.output[0]?.content[0];
  return part?.type.endsWith('text') ? part.text : part?.transcript;
}

const engines: LocalEngine[] = [];
const clients: RealtimeTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

/** Starts an engine on an ephemeral port, closed after the test. Synthetic voice; unpaced (the default). */
export async function engine(opts: LocalEngineOptions = {}): Promise<LocalEngine> {
  const e = await startLocalEngine({ tts: 'synthetic', ...opts });
  engines.push(e);
  return e;
}

const WAIT_MS = 10_000;

/** A raw `ws` client that queues every server event so tests can consume them in order. */
export class RealtimeTestClient {
  readonly received: Json[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  pings = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('server sent a binary frame');
      this.received.push(JSON.parse(data.toString()) as Json);
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('ping', () => {
      this.pings++;
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  send(event: unknown): void {
    this.ws.send(typeof event === 'string' ? event : JSON.stringify(event));
  }

  /** Resolves once `check` holds, re-evaluated on every server frame. */
  async until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!check()) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.types().join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Next unread event (optionally the next of `type`, skipping others). */
  async next(type?: string): Promise<Json> {
    let found: Json | undefined;
    await this.until(() => {
      while (this.cursor < this.received.length) {
        const e = this.received[this.cursor++]!;
        if (!type || e.type === type) {
          found = e;
          return true;
        }
      }
      return false;
    }, type ?? 'an event');
    return found!;
  }

  /** Unread events up to and including the first of `type`. */
  async through(type: string): Promise<Json[]> {
    const start = this.cursor;
    await this.next(type);
    return this.received.slice(start, this.cursor);
  }

  types(from = 0): string[] {
    return this.received.slice(from).map((e) => e.type);
  }
}

export interface ConnectOptions {
  model?: string | null;
  headers?: Record<string, string>;
  protocols?: string[];
  query?: string;
}

/** Opens a socket to the engine (model `gpt-realtime` unless given) without waiting for any event. */
export async function connect(e: LocalEngine, opts: ConnectOptions = {}): Promise<RealtimeTestClient> {
  const model = opts.model === undefined ? 'gpt-realtime' : opts.model;
  const params = new URLSearchParams(opts.query ?? '');
  if (model !== null) params.set('model', model);
  const ws = new WebSocket(`${e.url}?${params}`, opts.protocols ?? [], { headers: opts.headers ?? {} });
  const client = new RealtimeTestClient(ws);
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/** Connects and consumes `session.created`. */
export async function session(e: LocalEngine, opts: ConnectOptions = {}): Promise<RealtimeTestClient> {
  const client = await connect(e, opts);
  await client.next('session.created');
  return client;
}

/** Adds a user text message and asks for a response. */
export function askText(client: RealtimeTestClient, text: string): void {
  client.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  });
  client.send({ type: 'response.create' });
}

/** Collapses runs of the same event type (delta streams) so sequences can be compared exactly. */
export function collapse(types: string[]): string[] {
  return types.filter((t, i) => t !== types[i - 1]);
}

/** Concatenated base64 audio deltas of a response, decoded to PCM. */
export function audioOf(events: Json[], type = 'response.output_audio.delta'): Buffer {
  return Buffer.concat(
    events.filter((e) => e.type === type).map((e) => Buffer.from(String(e.delta), 'base64')),
  );
}

export function rms(pcm: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) sum += (pcm.readInt16LE(i) / 32768) ** 2;
  return Math.sqrt(sum / Math.max(1, pcm.length / 2));
}

// ---------------------------------------------------------------------------------------------------------
// Generated input audio (PCM16 24 kHz)
// ---------------------------------------------------------------------------------------------------------

const RATE = 24_000;

/**
 * A speech-like burst: a 150 Hz harmonic tone whose level rises and falls four times a second, like
 * syllables, without dropping to silence between them.
 */
export function speechBurst(ms: number): Buffer {
  const n = Math.round((ms * RATE) / 1000);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const tone =
      Math.sin(2 * Math.PI * 150 * t) +
      0.5 * Math.sin(2 * Math.PI * 300 * t) +
      0.25 * Math.sin(2 * Math.PI * 450 * t);
    const syllables = 0.6 + 0.4 * Math.sin(2 * Math.PI * 4 * t);
    out.writeInt16LE(Math.round(tone * syllables * 0.25 * 32767 * 0.57), i * 2);
  }
  return out;
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(Math.round((ms * RATE) / 1000) * 2);
}

/** Sends PCM as `input_audio_buffer.append` events of `chunkMs` each. */
export function appendAudio(client: RealtimeTestClient, pcm: Buffer, chunkMs = 100): void {
  const size = (chunkMs * RATE * 2) / 1000;
  for (let i = 0; i < pcm.length; i += size) {
    client.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(i, i + size).toString('base64') });
  }
}
