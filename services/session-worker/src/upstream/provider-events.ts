import type { SessionConfig } from '@rtv/protocol';
import type { ProviderShape } from './provider-connection.js';

/**
 * The provider's side of the wire, for both shapes (GA and beta): builds the client events the worker sends
 * (`session.update`, audio appends, text turns, restored history items) and reads the few provider events
 * that need more than a type check (audio deltas without parsing, text events, error codes). Pure functions:
 * mapping provider events to the public protocol is the session runner's job, and it owns the state.
 */

/**
 * The language is not a provider session field in either shape, so it reaches the model as one sentence
 * appended to the instructions. Temperature exists only in the beta shape; GA sessions use the model default.
 */
function instructionsFor(config: SessionConfig): string | undefined {
  const lang = `Respond in the language with the BCP 47 tag "${config.language}" unless the user asks otherwise.`;
  return config.instructions ? `${config.instructions}\n\n${lang}` : lang;
}

const DEFAULT_VAD = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 };

function vadFor(config: SessionConfig): Record<string, unknown> | null {
  if (config.turn_detection === null) return null;
  return {
    ...DEFAULT_VAD,
    ...(config.turn_detection ?? {}),
    create_response: true,
    interrupt_response: true,
  };
}

/** Builds the provider `session.update` event for the whole effective config. */
export function buildSessionUpdate(config: SessionConfig, shape: ProviderShape): string {
  const audioOut = (config.modalities as readonly string[]).includes('audio');
  if (shape === 'beta') {
    return JSON.stringify({
      type: 'session.update',
      session: {
        modalities: audioOut ? ['audio', 'text'] : ['text'],
        instructions: instructionsFor(config),
        voice: config.voice,
        input_audio_format: 'pcm16',
        output_audio_format: 'pcm16',
        turn_detection: vadFor(config),
        temperature: config.temperature,
        max_response_output_tokens: config.max_response_output_tokens,
      },
    });
  }
  return JSON.stringify({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: instructionsFor(config),
      output_modalities: audioOut ? ['audio'] : ['text'],
      max_output_tokens: config.max_response_output_tokens,
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: vadFor(config) },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: config.voice },
      },
    },
  });
}

/** A user text turn: the item, then a response request. */
export function buildTextTurn(text: string, shape: ProviderShape): [string, string] {
  const item = JSON.stringify({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  });
  return [item, shape === 'beta' ? '{"type":"response.create","response":{}}' : '{"type":"response.create"}'];
}

/** A past conversation item replayed into a fresh provider session (failover, reconnect, renewal). */
export function buildHistoryItem(role: 'user' | 'assistant', text: string, shape: ProviderShape): string {
  // Assistant text content is `output_text` in GA and `text` in beta.
  const type = role === 'user' ? 'input_text' : shape === 'beta' ? 'text' : 'output_text';
  return JSON.stringify({
    type: 'conversation.item.create',
    item: { type: 'message', role, content: [{ type, text }] },
  });
}

const AUDIO_APPEND_HEAD = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
const AUDIO_APPEND_TAIL = Buffer.from('"}');

/**
 * `input_audio_buffer.append` as bytes, by concatenation: the client's base64 passes through untouched
 * (DESIGN §4.5), copied once from the bus batch (or written from a string).
 */
export function buildAudioAppend(base64: string | Uint8Array): Buffer {
  const n = typeof base64 === 'string' ? base64.length : base64.byteLength;
  const out = Buffer.allocUnsafe(AUDIO_APPEND_HEAD.length + n + AUDIO_APPEND_TAIL.length);
  AUDIO_APPEND_HEAD.copy(out, 0);
  if (typeof base64 === 'string') out.write(base64, AUDIO_APPEND_HEAD.length, n, 'latin1');
  else out.set(base64, AUDIO_APPEND_HEAD.length);
  AUDIO_APPEND_TAIL.copy(out, AUDIO_APPEND_HEAD.length + n);
  return out;
}

const AUDIO_DELTA_TYPES = ['"type":"response.output_audio.delta"', '"type":"response.audio.delta"'];
const DELTA_FIELD = Buffer.from('"delta":"');
const QUOTE = 0x22;
/** How far into an event its type is looked for (it leads every provider event). */
export const EVENT_HEAD_CHARS = 160;

/** The first characters of a raw provider event, where its `type` is, for cheap checks without parsing. */
export function eventHead(raw: Buffer): string {
  return raw.toString('latin1', 0, Math.min(raw.length, EVENT_HEAD_CHARS));
}

/**
 * Fast path for the most frequent provider event: returns the base64 of an audio delta (a view into `raw`)
 * without parsing the JSON, or undefined for any other event. Base64 never contains a quote or backslash, so
 * the value ends at the next quote; the event type must appear in `head` (see {@link eventHead}), else the
 * caller parses normally.
 */
export function extractAudioDelta(raw: Buffer, head: string = eventHead(raw)): Buffer | undefined {
  if (!head.includes(AUDIO_DELTA_TYPES[0]!) && !head.includes(AUDIO_DELTA_TYPES[1]!)) return undefined;
  const start = raw.indexOf(DELTA_FIELD);
  if (start === -1) return undefined;
  const from = start + DELTA_FIELD.length;
  const end = raw.indexOf(QUOTE, from);
  return end === -1 ? undefined : raw.subarray(from, end);
}

/** Provider events that carry text for the client's `response.delta`, both shapes. */
export const TEXT_DELTA_EVENTS: ReadonlySet<string> = new Set([
  'response.output_audio_transcript.delta',
  'response.output_text.delta',
  'response.audio_transcript.delta',
  'response.text.delta',
]);

/** Provider events that close a text/transcript part, with the field holding the full text. */
export const TEXT_DONE_EVENTS: ReadonlyMap<string, string> = new Map([
  ['response.output_audio_transcript.done', 'transcript'],
  ['response.output_text.done', 'text'],
  ['response.audio_transcript.done', 'transcript'],
  ['response.text.done', 'text'],
]);

/** Provider error codes that map to a specific public code; everything else is `upstream_error`. */
export function publicErrorFor(
  providerCode: string | null | undefined,
  providerType: string | undefined,
): {
  code: 'conversation_busy' | 'upstream_error' | 'invalid_message';
  message: string;
} {
  switch (providerCode) {
    case 'conversation_already_has_active_response':
      return {
        code: 'conversation_busy',
        message: 'A response is already in progress; wait for response.done',
      };
    case 'response_cancel_not_active':
      return { code: 'invalid_message', message: 'There is no active response to cancel' };
    case 'input_audio_buffer_commit_empty':
      return { code: 'invalid_message', message: 'Not enough audio to commit (at least 100 ms is needed)' };
    default:
      // Provider messages can quote internals; only the class of failure reaches the client.
      return {
        code: 'upstream_error',
        message:
          providerType === 'invalid_request_error'
            ? 'The speech provider rejected a request for this session'
            : 'The speech provider reported an error',
      };
  }
}
