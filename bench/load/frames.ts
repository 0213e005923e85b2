/**
 * The audio the load generator streams: 20 ms of 24 kHz PCM16 (960 bytes) whose first 18 bytes carry a
 * probe header (send time, session index, frame number). Echo mode returns the base64 untouched, so the
 * header comes back in `response.audio` and the round trip is measured without any shared clock.
 */

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

/** The seed `conversation.item.input` audio message for frame `seq` of session `index`, stamped `sentAt`. */
export function audioMessage(index: number, seq: number, sentAt: number): string {
  header.writeDoubleLE(sentAt, 0);
  header.writeUInt32LE(index, 8);
  header.writeUInt32LE(seq, 12);
  return `${AUDIO_HEAD}${header.toString('base64')}${TAIL_B64}${AUDIO_TAIL}`;
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
  const bytes = Buffer.from(data.toString('latin1', start, start + HEADER_B64_CHARS), 'base64');
  if (bytes.length < 16) return undefined;
  return { sentAt: bytes.readDoubleLE(0), index: bytes.readUInt32LE(8), seq: bytes.readUInt32LE(12) };
}

/** The first `type` of a JSON message, for the rare non-audio frames; undefined when it is not JSON. */
export function messageType(data: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { type?: unknown };
    return typeof parsed.type === 'string' ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}
