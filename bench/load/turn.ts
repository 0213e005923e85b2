/**
 * Text turns: time from sending a seed `input_text` to the first `response.delta` and the first
 * `response.audio`. Each turn runs on a fresh, fully set-up session (a `session.update` round trip proves the
 * provider side is ready), so session setup is never part of the figure. Targets take turns one after the
 * other, so both see the same background load.
 */
import type WebSocket from 'ws';
import { connect } from './connect.js';
import { messageType } from './frames.js';

export interface TurnArgs {
  targets: Array<{ name: string; url: string }>;
  turns: number;
  /** Turns per target run first and discarded (JIT, first synthesis). */
  warmup: number;
  text: string;
  timeoutMs: number;
}

export interface TurnSample {
  firstDeltaMs: number;
  firstAudioMs: number;
}

export type TurnResult = Record<string, { samples: TurnSample[]; failures: number; firstError?: string }>;

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

async function oneTurn(url: string, text: string, timeoutMs: number): Promise<TurnSample> {
  const ws = await connect(url, { timeoutMs });
  try {
    const updated = waitFor(ws, 'session.update', timeoutMs);
    ws.send(JSON.stringify({ type: 'session.update', session_update: { voice: 'alloy', language: 'en' } }));
    await updated;
    const delta = waitFor(ws, 'response.delta', timeoutMs);
    const audio = waitFor(ws, 'response.audio', timeoutMs);
    const sentAt = performance.now();
    ws.send(
      JSON.stringify({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text },
      }),
    );
    const [d, a] = await Promise.all([delta, audio]);
    return { firstDeltaMs: d - sentAt, firstAudioMs: a - sentAt };
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
        const sample = await oneTurn(`${t.url}/turn_${i}`, args.text, args.timeoutMs);
        if (i >= args.warmup) slot.samples.push(sample);
      } catch (err) {
        slot.failures++;
        slot.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }
  return out;
}
