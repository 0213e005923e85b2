/**
 * Text turns: time from sending the text to the first text delta and the first audio delta, and time from the
 * start of the connect to that first audio. Each turn runs on a fresh session whose configuration round trip
 * (seed `session.update`; on `/v1/realtime` `session.update` → `session.updated`) proves the provider side is
 * ready, so session setup is never part of the per-turn figures; the figure from connect includes all of it
 * (upgrade, binding, the provider's handshake, that round trip), as a caller who just connected hears it.
 * Targets take turns one after the other, so both see the same background load.
 */
import type WebSocket from 'ws';
import type { VoiceRoute } from '../report/types.js';
import { connect, sessionTarget } from './connect.js';
import { messageType } from './frames.js';

export interface TurnTarget {
  name: string;
  url: string;
  /** The protocol spoken (default seed). */
  route?: VoiceRoute;
  /** Remote mode: gateway credentials, in turn by turn number (see `VoiceOpenArgs`). */
  tokens?: string[];
  /** Remote mode on the anonymous route (see `VoiceOpenArgs`). */
  user?: string;
  ca?: string;
}

export interface TurnArgs {
  targets: TurnTarget[];
  turns: number;
  /** Turns per target run first and discarded (JIT, first synthesis). */
  warmup: number;
  text: string;
  timeoutMs: number;
}

export interface TurnSample {
  firstDeltaMs: number;
  firstAudioMs: number;
  /** From the start of the connect to the first audio of the reply. */
  firstAudioFromConnectMs: number;
}

export type TurnResult = Record<string, { samples: TurnSample[]; failures: number; firstError?: string }>;

/** How each route configures a session, asks for a reply, and names the first text and audio of it. */
const TURN_PROTOCOLS: Record<
  VoiceRoute,
  { update: string; updated: string; ask: (text: string) => string[]; delta: string; audio: string }
> = {
  seed: {
    update: JSON.stringify({ type: 'session.update', session_update: { voice: 'alloy', language: 'en' } }),
    updated: 'session.update',
    ask: (text) => [
      JSON.stringify({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text },
      }),
    ],
    delta: 'response.delta',
    audio: 'response.audio',
  },
  openai: {
    update: JSON.stringify({ type: 'session.update', session: { type: 'realtime' } }),
    updated: 'session.updated',
    ask: (text) => [
      JSON.stringify({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
      }),
      JSON.stringify({ type: 'response.create' }),
    ],
    delta: 'response.output_audio_transcript.delta',
    audio: 'response.output_audio.delta',
  },
};

/** Resolves with the arrival time of the first message of `type` after now. */
function waitFor(ws: WebSocket, type: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (data: Buffer) => {
      const at = performance.now();
      const t = messageType(data);
      if (t === 'error') {
        clearTimeout(timer);
        ws.off('message', onMessage);
        reject(new Error(`error while waiting for ${type}: ${data.toString().slice(0, 200)}`));
      } else if (t === type) {
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(at);
      }
    };
    ws.on('message', onMessage);
  });
}

async function oneTurn(
  target: TurnTarget,
  index: number,
  text: string,
  timeoutMs: number,
): Promise<TurnSample> {
  const route = target.route ?? 'seed';
  const protocol = TURN_PROTOCOLS[route];
  const endpoint = sessionTarget(
    { url: target.url, route, tokens: target.tokens, user: target.user },
    index,
    'turn_',
  );
  const connectAt = performance.now();
  const ws = await connect(endpoint.url, { timeoutMs, headers: endpoint.headers, ca: target.ca });
  try {
    const updated = waitFor(ws, protocol.updated, timeoutMs);
    ws.send(protocol.update);
    await updated;
    const delta = waitFor(ws, protocol.delta, timeoutMs);
    const audio = waitFor(ws, protocol.audio, timeoutMs);
    const sentAt = performance.now();
    for (const message of protocol.ask(text)) ws.send(message);
    const [d, a] = await Promise.all([delta, audio]);
    return { firstDeltaMs: d - sentAt, firstAudioMs: a - sentAt, firstAudioFromConnectMs: a - connectAt };
  } finally {
    // The reply is still streaming: the client simply hangs up, as a caller who heard enough would.
    ws.close(1000);
  }
}

export async function runTurns(args: TurnArgs): Promise<TurnResult> {
  const out: TurnResult = {};
  for (const t of args.targets) out[t.name] = { samples: [], failures: 0 };
  for (let i = 0; i < args.warmup + args.turns; i++) {
    for (const t of args.targets) {
      const slot = out[t.name]!;
      try {
        const sample = await oneTurn(t, i, args.text, args.timeoutMs);
        if (i >= args.warmup) slot.samples.push(sample);
      } catch (err) {
        slot.failures++;
        slot.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }
  return out;
}
