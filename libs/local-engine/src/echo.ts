import type { RealtimeApiShape } from '@rtv/protocol/openai-realtime';
import { newId } from './ids.js';

// Echo mode exists for benchmarks that measure the gateway, so this path must cost next to nothing: the
// audio is passed through as the same base64 string, never decoded, and the frame is built by concatenation.

/** Append frames as the provider's SDKs serialise them (`JSON.stringify({type, audio})`). */
const APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"';
const BASE64 = /^[A-Za-z0-9+/=]*$/;

/**
 * The audio of an append frame in the canonical shape, found without JSON.parse; null for any other frame
 * (which then takes the ordinary, parsed path).
 */
export function canonicalAppendAudio(text: string): string | null {
  if (!text.startsWith(APPEND_PREFIX) || !text.endsWith('"}')) return null;
  const audio = text.slice(APPEND_PREFIX.length, -2);
  return BASE64.test(audio) ? audio : null;
}

/** Builds the `response.output_audio.delta` (beta: `response.audio.delta`) answering one append. */
export class EchoFrames {
  private readonly prefix: string;
  private readonly suffix: string;

  constructor(shape: RealtimeApiShape) {
    const type = shape === 'beta' ? 'response.audio.delta' : 'response.output_audio.delta';
    // All echo deltas of a connection belong to one synthetic response and item; no response.created
    // precedes them, as echo mode has no responses.
    this.prefix = `{"type":"${type}","event_id":"`;
    this.suffix = `","response_id":"${newId('resp')}","item_id":"${newId('item')}","output_index":0,"content_index":0,"delta":`;
  }

  frame(audio: string): string {
    // Base64 never needs JSON escaping; anything else a client sent is escaped properly.
    const delta = BASE64.test(audio) ? `"${audio}"` : JSON.stringify(audio);
    return `${this.prefix}${newId('event')}${this.suffix}${delta}}`;
  }
}
