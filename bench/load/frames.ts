/**
 * The audio the load generator streams: 20 ms of 24 kHz PCM16 (960 bytes) whose first 18 bytes carry a
 * probe header (send time, session index, frame number). Echo mode returns the base64 untouched, so the
 * header comes back in `response.audio` (seed route) or `response.output_audio.delta` (OpenAI-compatible
 * route) and the round trip is measured without any shared clock.
 */
import type { VoiceRoute } from '../report/types.js';

/** 20 ms at 24 kHz, 16-bit mono. */
export const FRAME_BYTES = 960;
export const FRAME_MS = 20;
/** A multiple of 3, so its base64 never straddles the rest's and the two encode separately. */
const HEADER_BYTES = 18;
const HEADER_B64_CHARS = (HEADER_BYTES / 3) * 4;

/** The rest of every frame: a quiet 440 Hz tone, encoded once. */
const TAIL_B64 = (() => {
  const pcm = Buffer.alloc(FRAME_BYTES - HEADER_BYTES);
  for (let i = 0; i + 1 < pcm.length; i += 2) {
    pcm.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * (i / 2)) / 24_000)), i);
  }
  return pcm.toString('base64');
})();

const AUDIO_HEAD =
  '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"';
const AUDIO_TAIL = '"}}';
const header = Buffer.alloc(HEADER_BYTES);

/** The base64 of frame `seq` of session `index`, stamped `sentAt`. */
function frameBase64(index: number, seq: number, sentAt: number): string {
  header.writeDoubleLE(sentAt, 0);
  header.writeUInt32LE(index, 8);
  header.writeUInt32LE(seq, 12);
  return `${header.toString('base64')}${TAIL_B64}`;
}

/** The seed `conversation.item.input` audio message for frame `seq` of session `index`, stamped `sentAt`. */
export function audioMessage(index: number, seq: number, sentAt: number): string {
  return `${AUDIO_HEAD}${frameBase64(index, seq, sentAt)}${AUDIO_TAIL}`;
}

/** Byte for byte what OpenAI's SDKs send (`JSON.stringify({type, audio})`), so the gateway's fast path applies. */
const APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"';
const APPEND_TAIL = '"}';

/** The OpenAI Realtime `input_audio_buffer.append` carrying the same frame as `audioMessage`. */
export function appendMessage(index: number, seq: number, sentAt: number): string {
  return `${APPEND_HEAD}${frameBase64(index, seq, sentAt)}${APPEND_TAIL}`;
}

export interface Probe {
  sentAt: number;
  index: number;
  seq: number;
}

/** Both the gateway and the baseline start `response.audio` with exactly these bytes. */
const RESPONSE_AUDIO_HEAD = Buffer.from('{"type":"response.audio","response":{"audio":"');

/**
 * Reads the probe header out of a `response.audio` frame without parsing the JSON (the generator must stay
 * cheap); undefined for any other message.
 */
export function readProbe(data: Buffer): Probe | undefined {
  const start = RESPONSE_AUDIO_HEAD.length;
  if (data.length < start + HEADER_B64_CHARS) return undefined;
  if (data.compare(RESPONSE_AUDIO_HEAD, 0, start, 0, start) !== 0) return undefined;
  return probeAt(data, start);
}

/** The probe header whose base64 starts at byte `start` of `data`. */
function probeAt(data: Buffer, start: number): Probe | undefined {
  if (data.length < start + HEADER_B64_CHARS) return undefined;
  const bytes = Buffer.from(data.toString('latin1', start, start + HEADER_B64_CHARS), 'base64');
  if (bytes.length < 16) return undefined;
  return { sentAt: bytes.readDoubleLE(0), index: bytes.readUInt32LE(8), seq: bytes.readUInt32LE(12) };
}

/** Every provider event the OpenAI-compatible route forwards begins with its type. */
const OUTPUT_AUDIO_DELTA_HEAD = Buffer.from('{"type":"response.output_audio.delta"');
/** The echo engine writes `delta` last; the field's name and opening quote, searched from the end. */
const DELTA_KEY = Buffer.from('"delta":"');

/**
 * Reads the probe header out of a `response.output_audio.delta` event, which the gateway forwards as the
 * engine wrote it (`…,"delta":"<base64>"}`), without parsing the JSON; undefined for any other event.
 */
export function readDeltaProbe(data: Buffer): Probe | undefined {
  const head = OUTPUT_AUDIO_DELTA_HEAD.length;
  if (data.length < head + DELTA_KEY.length + HEADER_B64_CHARS) return undefined;
  if (data.compare(OUTPUT_AUDIO_DELTA_HEAD, 0, head, 0, head) !== 0) return undefined;
  const key = data.lastIndexOf(DELTA_KEY);
  return key < head ? undefined : probeAt(data, key + DELTA_KEY.length);
}

/** How one client route writes a numbered frame and finds the number in the echo. */
export interface FrameCodec {
  message(index: number, seq: number, sentAt: number): string;
  readProbe(data: Buffer): Probe | undefined;
}

/** The codec of each route: the same audio, framed as that route's protocol frames it. */
export const FRAME_CODECS: Readonly<Record<VoiceRoute, FrameCodec>> = {
  seed: { message: audioMessage, readProbe },
  openai: { message: appendMessage, readProbe: readDeltaProbe },
};

/** The first `type` of a JSON message, for the rare non-audio frames; undefined when it is not JSON. */
export function messageType(data: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { type?: unknown };
    return typeof parsed.type === 'string' ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}
