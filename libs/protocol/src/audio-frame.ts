/**
 * Byte-level fast path for the commonest client frame, an audio chunk with no `event_id`:
 *
 *   {"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"…"}}
 *
 * in exactly this key order, with optional JSON whitespace between tokens. Nothing is decoded and no
 * string is created. Anything else (other key order, extra keys, escapes, bad audio) is left to
 * {@link parseClientFrame}, which reports the proper error.
 */
import { base64RunEnd } from './base64.js';
import { DEFAULT_FRAME_LIMITS } from './parse.js';

/** Byte range [start, end) of the base64 audio inside a canonical audio frame. */
export interface AudioFrameRange {
  start: number;
  end: number;
}

const PREFIX_TEXT =
  '{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"';
const PREFIX = new Uint8Array(PREFIX_TEXT.length);
// 1 where a token starts in PREFIX, so whitespace may come before that byte.
const TOKEN_START = new Uint8Array(PREFIX_TEXT.length);
{
  let inString = false;
  for (let j = 0; j < PREFIX_TEXT.length; j++) {
    const c = PREFIX_TEXT.charCodeAt(j);
    PREFIX[j] = c;
    if (!inString) TOKEN_START[j] = 1;
    if (c === 0x22) inString = !inString;
  }
}

// JSON insignificant whitespace: space, tab, LF, CR.
const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

const QUOTE = 0x22;
const EQUALS = 0x3d;
const CLOSE_BRACE = 0x7d;

/** The frame starts with the prefix exactly, without whitespace (as every client we know sends it). */
function startsWithPrefix(bytes: Uint8Array): boolean {
  const p = PREFIX;
  if (bytes.length <= p.length) return false;
  for (let j = 0; j < p.length; j++) if (bytes[j] !== p[j]) return false;
  return true;
}

/**
 * The range of the base64 audio when `bytes` is a canonical audio frame that
 * `parseClientFrame(bytes, { maxAudioBytes, maxFrameBytes })` accepts with exactly that audio;
 * `undefined` otherwise (including valid frames in another form), in which case call parseClientFrame.
 */
export function scanAudioFrame(
  bytes: Uint8Array,
  maxAudioBytes: number,
  maxFrameBytes: number = DEFAULT_FRAME_LIMITS.maxFrameBytes,
): AudioFrameRange | undefined {
  const n = bytes.length;
  // Same comparison as parseClientFrame's size check.
  if (n > maxFrameBytes) return undefined;
  let i = startsWithPrefix(bytes) ? PREFIX.length : 0;
  // With whitespace between the tokens, byte by byte.
  for (let j = i; j < PREFIX.length; j++) {
    if (TOKEN_START[j] === 1) while (i < n && WS[bytes[i]!] === 1) i++;
    if (i >= n || bytes[i] !== PREFIX[j]) return undefined;
    i++;
  }

  const start = i;
  i = base64RunEnd(bytes, i, n);
  let pad = 0;
  while (pad < 2 && i < n && bytes[i] === EQUALS) {
    i++;
    pad++;
  }
  const end = i;
  if (i >= n || bytes[i] !== QUOTE) return undefined;
  i++;

  // Same rules as isStandardBase64 / base64DecodedLength: '=' only as the last one or two characters.
  const length = end - start;
  if (length === 0 || (length & 3) !== 0) return undefined;
  const decoded = (length >>> 2) * 3 - pad;
  if ((decoded & 1) !== 0 || decoded > maxAudioBytes) return undefined;

  for (let k = 0; k < 2; k++) {
    while (i < n && WS[bytes[i]!] === 1) i++;
    if (i >= n || bytes[i] !== CLOSE_BRACE) return undefined;
    i++;
  }
  while (i < n && WS[bytes[i]!] === 1) i++;
  if (i !== n) return undefined;
  return { start, end };
}
