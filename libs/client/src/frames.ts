// Client frames checked against the protocol's rules before they are sent, and server frames read without
// the protocol library's validators (they compile to `new Function`, which a strict CSP forbids).
import type { ClientMessage, ServerMessage } from '@rtv/protocol';
import { bytesToBase64 } from './audio/pcm16.js';
import { RealtimeClientError } from './errors.js';

/** The protocol's limit on decoded audio per message (docs/protocol.md, Limits). */
export const MAX_AUDIO_BYTES = 786_432;
/** The protocol's limit on a text turn. */
export const MAX_TEXT_CHARS = 16_384;

/**
 * A user text turn; throws `invalid_argument` for text the server would reject. `interrupt` cancels the reply
 * in progress first (otherwise the server answers the text after it).
 */
export function textTurn(text: string, interrupt = false): ClientMessage {
  if (text.trim() === '' || text.length > MAX_TEXT_CHARS) {
    throw new RealtimeClientError(
      'invalid_argument',
      `text must be 1-${MAX_TEXT_CHARS} characters and not only whitespace`,
    );
  }
  return {
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text, ...(interrupt ? { interrupt: true } : {}) },
  };
}

/** The bytes of a PCM16 chunk; throws `invalid_argument` for a size the server would reject. */
export function audioBytes(pcm: ArrayBuffer | ArrayBufferView): Uint8Array {
  const bytes =
    pcm instanceof ArrayBuffer
      ? new Uint8Array(pcm)
      : new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  if (bytes.byteLength === 0 || bytes.byteLength % 2 !== 0 || bytes.byteLength > MAX_AUDIO_BYTES) {
    throw new RealtimeClientError(
      'invalid_argument',
      `audio must be PCM16: an even number of bytes from 2 to ${MAX_AUDIO_BYTES} (got ${bytes.byteLength})`,
    );
  }
  return bytes;
}

/** The frame that carries `bytes`: raw binary (the extension) or a seed message with base64. */
export function audioFrame(bytes: Uint8Array, mode: 'binary' | 'json'): Uint8Array | string {
  if (mode === 'binary') return bytes;
  return JSON.stringify({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio: bytesToBase64(bytes) },
  });
}

/**
 * A server frame as a message: any JSON object with a string `type` (unknown types included, for forward
 * compatibility), or the `bad_server_message` error saying why not.
 */
export function readServerFrame(data: unknown): ServerMessage | RealtimeClientError {
  if (typeof data !== 'string') {
    return new RealtimeClientError('bad_server_message', 'the server sent a binary frame; ignored');
  }
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    message = undefined;
  }
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  ) {
    return new RealtimeClientError('bad_server_message', `unreadable server frame: ${data.slice(0, 80)}`);
  }
  return message as ServerMessage;
}
