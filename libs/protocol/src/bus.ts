/**
 * Internal bus envelopes: what gateways and session workers write to each other's Redis streams.
 *
 * One stream entry carries a *batch*: every frame bound for the same stream within one event-loop turn,
 * one frame per line. The entry has a single field whose name is the envelope version (`v1`), so a reader
 * can skip entries of a version it does not know instead of misreading them.
 *
 * Lines are tab-separated with the payload last. Payloads never contain a raw newline: audio is base64 and
 * every JSON payload comes from `JSON.stringify` or the string builders in `encode.ts`, which escape
 * control characters. This lets the hot path build and split envelopes as bytes, with one copy of the payload
 * and `indexOf`, without re-parsing or re-serialising audio (DESIGN §4.5), and Redis gets the bytes as they
 * are: no string is converted to UTF-8 on the way out or decoded from it on the way in.
 */

import { encodeResponseAudioBytes } from './encode.js';

/** Field name of a v1 batch inside a stream entry. Bump together with any change to the line grammar. */
export const BUS_ENVELOPE_VERSION = 'v1';

/**
 * Client frame seqs of a connection with attach generation g start at g · 2³² + 1, above every earlier
 * connection's; within a connection they grow by one per forwarded frame. So an owner knows that a seq above the
 * next one it expects is either the first frame of a newer connection or a sign that frames were overtaken.
 */
export const CLIENT_SEQ_GENERATION_STRIDE = 2 ** 32;

/**
 * Server frame seqs of owner epoch e start at e · 2³² + 1 and grow by one per frame the owner sends, so a
 * gateway knows that a seq above the next one it expects, in the same epoch's range, means frames went missing.
 */
export const SERVER_SEQ_EPOCH_STRIDE = 2 ** 32;

/** How a client frame's payload is carried. */
export const FrameKind = {
  /** Base64 PCM16 audio as the client sent it (already validated at the gateway). */
  Audio: 'a',
  /** A validated client message, re-serialised by the gateway as compact JSON. */
  Json: 'j',
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Gateway → worker lines (on `wk:<wid>:in`). */
export type GatewayToWorker =
  /** A numbered client frame of a session. */
  | { op: 'F'; sid: string; seq: number; kind: FrameKind; payload: Buffer }
  /** The client is gone: end the session (reason is a short machine word such as `client_closed`). */
  | { op: 'E'; sid: string; reason: string }
  /**
   * The client's socket at gateway `gid` dropped without ending the session: keep it for the resume grace
   * period (ignored when the session has meanwhile resumed at another gateway).
   */
  | { op: 'D'; sid: string; gid: string }
  /**
   * The client resumed at gateway `gid`: send server frames there from now on, first replaying those after
   * `lastSeq` (the last server frame seq the client saw; 0 when unknown).
   */
  | { op: 'R'; sid: string; gid: string; lastSeq: number }
  /**
   * Gateway `gid` saw a gap in the session's server frames (written while Redis was away, or lost when a master
   * failed over): send again, to `gid`, every server frame still kept after `afterSeq` (the last one it delivered
   * in order). Unlike `R`, nothing else changes and the client is not told.
   */
  | { op: 'S'; sid: string; gid: string; afterSeq: number };

/** Worker → gateway lines (on `gw:<gid>:out`). */
export type WorkerToGateway =
  /** `payload` is the final JSON text for the client socket; `seq` numbers server frames per session. */
  | { op: 'M'; sid: string; epoch: number; seq: number; payload: Buffer }
  /** The worker `wid` owns the session from this epoch on: route client frames to its stream. */
  | { op: 'B'; sid: string; wid: string; epoch: number }
  /** The owner has applied every client frame up to and including `seq`. */
  | { op: 'A'; sid: string; epoch: number; seq: number }
  /** The owner ended the session: close the client socket with `code` and `reason`. */
  | { op: 'X'; sid: string; epoch: number; code: number; reason: string };

export type BusLine = GatewayToWorker | WorkerToGateway;

const TAB = 0x09;
const NL = 0x0a;

/** A bus line or batch as bytes. Lines are built once and written to Redis as they are (no re-encoding). */
export type BusBytes = Buffer;

/**
 * One line: an ASCII/UTF-8 header (op and fields, each followed by a tab) and an optional payload. Audio
 * payloads are base64 (one byte per character), written with `latin1` — a plain copy; anything else is
 * UTF-8. A byte payload (a view into a frame the caller received) is copied as is.
 */
function line(header: string, payload?: string | Uint8Array, payloadIsAscii = false): Buffer {
  const headerBytes = Buffer.byteLength(header);
  let payloadBytes = 0;
  if (payload !== undefined) {
    if (typeof payload !== 'string') payloadBytes = payload.byteLength;
    else payloadBytes = payloadIsAscii ? payload.length : Buffer.byteLength(payload);
  }
  const out = Buffer.allocUnsafe(headerBytes + payloadBytes);
  out.write(header, 0, headerBytes, 'utf8');
  if (payload !== undefined) {
    if (typeof payload !== 'string') out.set(payload, headerBytes);
    else out.write(payload, headerBytes, payloadBytes, payloadIsAscii ? 'latin1' : 'utf8');
  }
  return out;
}

/**
 * Encodes one client frame line. `payload` is the base64 audio (kind `a`) or the JSON text (kind `j`), as a
 * string or as the bytes of the client's own frame; it must not contain a newline (see module comment).
 */
export function encodeClientFrameLine(
  sid: string,
  seq: number,
  kind: FrameKind,
  payload: string | Uint8Array,
): BusBytes {
  return line(`F\t${sid}\t${seq}\t${kind}\t`, payload, kind === FrameKind.Audio);
}

export function encodeEndLine(sid: string, reason: string): BusBytes {
  return line(`E\t${sid}\t${sanitizeWord(reason)}`);
}

export function encodeDetachLine(sid: string, gid: string): BusBytes {
  return line(`D\t${sid}\t${gid}`);
}

export function encodeResumeLine(sid: string, gid: string, lastSeq: number): BusBytes {
  return line(`R\t${sid}\t${gid}\t${lastSeq}`);
}

export function encodeResendLine(sid: string, gid: string, afterSeq: number): BusBytes {
  return line(`S\t${sid}\t${gid}\t${afterSeq}`);
}

/** A server frame for the client: `payload` is its final JSON text (a string or its UTF-8 bytes). */
export function encodeMessageLine(
  sid: string,
  epoch: number,
  seq: number,
  payload: string | Uint8Array,
): BusBytes {
  return line(`M\t${sid}\t${epoch}\t${seq}\t`, payload);
}

/**
 * A message line carrying the seed's `response.audio` frame around `audio` (standard base64 as bytes), built in
 * one buffer: the same bytes as `encodeMessageLine(sid, epoch, seq, encodeResponseAudioBytes(audio, timestamp))`
 * with one allocation and one copy of the audio fewer. `payload` is the client frame, a view into `line`.
 */
export function encodeAudioMessageLine(
  sid: string,
  epoch: number,
  seq: number,
  audio: Uint8Array,
  timestamp: number,
): { line: BusBytes; payload: Buffer } {
  const header = `M\t${sid}\t${epoch}\t${seq}\t`;
  const out = encodeResponseAudioBytes(audio, timestamp, header);
  return { line: out, payload: out.subarray(header.length) };
}

export function encodeBindLine(sid: string, wid: string, epoch: number): BusBytes {
  return line(`B\t${sid}\t${wid}\t${epoch}`);
}

export function encodeAckLine(sid: string, epoch: number, seq: number): BusBytes {
  return line(`A\t${sid}\t${epoch}\t${seq}`);
}

export function encodeCloseLine(sid: string, epoch: number, code: number, reason: string): BusBytes {
  return line(`X\t${sid}\t${epoch}\t${code}\t${reason.replace(/[\t\n\r]/g, ' ')}`);
}

/** Joins lines into one batch value for a stream entry (a single line is used as it is). */
export function encodeBatch(lines: readonly Uint8Array[]): BusBytes {
  if (lines.length === 1) return asBuffer(lines[0]!);
  let total = lines.length - 1;
  for (const l of lines) total += l.byteLength;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) out[pos++] = NL;
    out.set(lines[i]!, pos);
    pos += lines[i]!.byteLength;
  }
  return out;
}

/**
 * Splits a batch and decodes each line, calling `onLine` in order. Payloads are views into `batch`: use them
 * before the callback returns or copy them. Malformed lines are reported through `onBadLine` and skipped, so
 * one bad writer cannot stop a reader.
 */
export function decodeBatch(
  batch: Uint8Array,
  onLine: (line: BusLine) => void,
  onBadLine?: (line: Buffer, why: string) => void,
): void {
  const buf = asBuffer(batch);
  let start = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(NL, start);
    if (end === -1) end = buf.length;
    if (end > start) {
      const decoded = decodeLineAt(buf, start, end);
      if (typeof decoded === 'string') onBadLine?.(buf.subarray(start, end), decoded);
      else onLine(decoded);
    }
    start = end + 1;
  }
}

/** Decodes one line (a string for tests and tools, or bytes), or returns why it is malformed. */
export function decodeLine(text: string | Uint8Array): BusLine | string {
  const buf = typeof text === 'string' ? Buffer.from(text) : asBuffer(text);
  return decodeLineAt(buf, 0, buf.length);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Field boundaries found by {@link cut}: `starts[i]`..`ends[i]`; the last field runs to the end of the line. */
const starts = [0, 0, 0, 0];
const ends = [0, 0, 0, 0];

function decodeLineAt(buf: Buffer, from: number, to: number): BusLine | string {
  if (to - from < 2 || buf[from + 1] !== TAB) return 'missing op';
  const op = buf[from]!;
  switch (op) {
    case 0x46: {
      // F
      if (!cut(buf, from, to, 4)) return 'F: too few fields';
      const seq = toInt(buf, starts[1]!, ends[1]!);
      if (seq === undefined) return 'F: bad seq';
      const k = ends[2]! - starts[2]! === 1 ? buf[starts[2]!] : -1;
      if (k !== 0x61 && k !== 0x6a) return 'F: bad kind';
      return {
        op: 'F',
        sid: text(buf, 0),
        seq,
        kind: k === 0x61 ? FrameKind.Audio : FrameKind.Json,
        payload: buf.subarray(starts[3]!, ends[3]!),
      };
    }
    case 0x4d: {
      // M
      if (!cut(buf, from, to, 4)) return 'M: too few fields';
      const epoch = toInt(buf, starts[1]!, ends[1]!);
      const seq = toInt(buf, starts[2]!, ends[2]!);
      if (epoch === undefined || seq === undefined) return 'M: bad number';
      return { op: 'M', sid: text(buf, 0), epoch, seq, payload: buf.subarray(starts[3]!, ends[3]!) };
    }
    case 0x42: {
      // B
      if (!cut(buf, from, to, 3)) return 'B: too few fields';
      const epoch = toInt(buf, starts[2]!, ends[2]!);
      if (epoch === undefined) return 'B: bad epoch';
      return { op: 'B', sid: text(buf, 0), wid: text(buf, 1), epoch };
    }
    case 0x41: {
      // A
      if (!cut(buf, from, to, 3)) return 'A: too few fields';
      const epoch = toInt(buf, starts[1]!, ends[1]!);
      const seq = toInt(buf, starts[2]!, ends[2]!);
      if (epoch === undefined || seq === undefined) return 'A: bad number';
      return { op: 'A', sid: text(buf, 0), epoch, seq };
    }
    case 0x58: {
      // X
      if (!cut(buf, from, to, 4)) return 'X: too few fields';
      const epoch = toInt(buf, starts[1]!, ends[1]!);
      const code = toInt(buf, starts[2]!, ends[2]!);
      if (epoch === undefined || code === undefined) return 'X: bad number';
      return { op: 'X', sid: text(buf, 0), epoch, code, reason: text(buf, 3) };
    }
    case 0x45: {
      // E
      if (!cut(buf, from, to, 2)) return 'E: too few fields';
      return { op: 'E', sid: text(buf, 0), reason: text(buf, 1) };
    }
    case 0x44: {
      // D
      if (!cut(buf, from, to, 2)) return 'D: too few fields';
      return { op: 'D', sid: text(buf, 0), gid: text(buf, 1) };
    }
    case 0x52: {
      // R
      if (!cut(buf, from, to, 3)) return 'R: too few fields';
      const lastSeq = toInt(buf, starts[2]!, ends[2]!);
      if (lastSeq === undefined) return 'R: bad seq';
      return { op: 'R', sid: text(buf, 0), gid: text(buf, 1), lastSeq };
    }
    case 0x53: {
      // S
      if (!cut(buf, from, to, 3)) return 'S: too few fields';
      const afterSeq = toInt(buf, starts[2]!, ends[2]!);
      if (afterSeq === undefined) return 'S: bad seq';
      return { op: 'S', sid: text(buf, 0), gid: text(buf, 1), afterSeq };
    }
    default:
      return `unknown op ${JSON.stringify(String.fromCharCode(op))}`;
  }
}

/**
 * Finds `n` tab-separated fields after the op (into `starts`/`ends`); the last field takes the rest of the
 * line (payloads never contain a raw tab, but the grammar does not depend on it).
 */
function cut(buf: Buffer, from: number, to: number, n: number): boolean {
  let pos = from + 2;
  for (let i = 0; i < n - 1; i++) {
    const next = buf.indexOf(TAB, pos);
    if (next === -1 || next >= to) return false;
    starts[i] = pos;
    ends[i] = next;
    pos = next + 1;
  }
  starts[n - 1] = pos;
  ends[n - 1] = to;
  return true;
}

function text(buf: Buffer, field: number): string {
  return buf.toString('utf8', starts[field]!, ends[field]!);
}

/** A non-negative safe integer written in plain decimal digits, else undefined. */
function toInt(buf: Buffer, from: number, to: number): number | undefined {
  const len = to - from;
  if (len === 0 || len > 15) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

function sanitizeWord(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64);
}
