/**
 * Internal bus envelopes: what gateways and session workers write to each other's Redis streams.
 *
 * One stream entry carries a *batch*: every frame bound for the same stream within one event-loop turn,
 * one frame per line. The entry has a single field whose name is the envelope version (`v1`), so a reader
 * can skip entries of a version it does not know instead of misreading them.
 *
 * Lines are tab-separated with the payload last. Payloads never contain a raw newline: audio is base64 and
 * every JSON payload comes from `JSON.stringify` or the string builders in `encode.ts`, which escape
 * control characters. This lets the hot path build and split envelopes by string concatenation and
 * `indexOf`, without re-parsing or re-serialising audio (DESIGN §4.5).
 */

/** Field name of a v1 batch inside a stream entry. Bump together with any change to the line grammar. */
export const BUS_ENVELOPE_VERSION = 'v1';

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
  | { op: 'F'; sid: string; seq: number; kind: FrameKind; payload: string }
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
  | { op: 'R'; sid: string; gid: string; lastSeq: number };

/** Worker → gateway lines (on `gw:<gid>:out`). */
export type WorkerToGateway =
  /** `payload` is the final JSON text for the client socket; `seq` numbers server frames per session. */
  | { op: 'M'; sid: string; epoch: number; seq: number; payload: string }
  /** The worker `wid` owns the session from this epoch on: route client frames to its stream. */
  | { op: 'B'; sid: string; wid: string; epoch: number }
  /** The owner has applied every client frame up to and including `seq`. */
  | { op: 'A'; sid: string; epoch: number; seq: number }
  /** The owner ended the session: close the client socket with `code` and `reason`. */
  | { op: 'X'; sid: string; epoch: number; code: number; reason: string };

export type BusLine = GatewayToWorker | WorkerToGateway;

const TAB = '\t';

/** Encodes one client frame line. `payload` must not contain a newline (see module comment). */
export function encodeClientFrameLine(sid: string, seq: number, kind: FrameKind, payload: string): string {
  return `F\t${sid}\t${seq}\t${kind}\t${payload}`;
}

export function encodeEndLine(sid: string, reason: string): string {
  return `E\t${sid}\t${sanitizeWord(reason)}`;
}

export function encodeDetachLine(sid: string, gid: string): string {
  return `D\t${sid}\t${gid}`;
}

export function encodeResumeLine(sid: string, gid: string, lastSeq: number): string {
  return `R\t${sid}\t${gid}\t${lastSeq}`;
}

export function encodeMessageLine(sid: string, epoch: number, seq: number, payload: string): string {
  return `M\t${sid}\t${epoch}\t${seq}\t${payload}`;
}

export function encodeBindLine(sid: string, wid: string, epoch: number): string {
  return `B\t${sid}\t${wid}\t${epoch}`;
}

export function encodeAckLine(sid: string, epoch: number, seq: number): string {
  return `A\t${sid}\t${epoch}\t${seq}`;
}

export function encodeCloseLine(sid: string, epoch: number, code: number, reason: string): string {
  return `X\t${sid}\t${epoch}\t${code}\t${reason.replace(/[\t\n\r]/g, ' ')}`;
}

/** Joins lines into one batch value for a stream entry. */
export function encodeBatch(lines: readonly string[]): string {
  return lines.join('\n');
}

/**
 * Splits a batch and decodes each line, calling `onLine` in order. Malformed lines are reported through
 * `onBadLine` and skipped, so one bad writer cannot stop a reader.
 */
export function decodeBatch(
  batch: string,
  onLine: (line: BusLine) => void,
  onBadLine?: (line: string, why: string) => void,
): void {
  let start = 0;
  while (start <= batch.length) {
    let end = batch.indexOf('\n', start);
    if (end === -1) end = batch.length;
    if (end > start) {
      const raw = batch.slice(start, end);
      const decoded = decodeLine(raw);
      if (typeof decoded === 'string') onBadLine?.(raw, decoded);
      else onLine(decoded);
    }
    start = end + 1;
  }
}

/** Decodes one line, or returns why it is malformed. */
export function decodeLine(line: string): BusLine | string {
  const op = line[0];
  if (line[1] !== TAB) return 'missing op';
  switch (op) {
    case 'F': {
      const f = cut(line, 4);
      if (!f) return 'F: too few fields';
      const seq = toInt(f[1]);
      const kind = f[2];
      if (seq === undefined) return 'F: bad seq';
      if (kind !== FrameKind.Audio && kind !== FrameKind.Json) return 'F: bad kind';
      return { op: 'F', sid: f[0], seq, kind, payload: f[3] };
    }
    case 'M': {
      const f = cut(line, 4);
      if (!f) return 'M: too few fields';
      const epoch = toInt(f[1]);
      const seq = toInt(f[2]);
      if (epoch === undefined || seq === undefined) return 'M: bad number';
      return { op: 'M', sid: f[0], epoch, seq, payload: f[3] };
    }
    case 'B': {
      const f = cut(line, 3);
      if (!f) return 'B: too few fields';
      const epoch = toInt(f[2]);
      if (epoch === undefined) return 'B: bad epoch';
      return { op: 'B', sid: f[0], wid: f[1], epoch };
    }
    case 'A': {
      const f = cut(line, 3);
      if (!f) return 'A: too few fields';
      const epoch = toInt(f[1]);
      const seq = toInt(f[2]);
      if (epoch === undefined || seq === undefined) return 'A: bad number';
      return { op: 'A', sid: f[0], epoch, seq };
    }
    case 'X': {
      const f = cut(line, 4);
      if (!f) return 'X: too few fields';
      const epoch = toInt(f[1]);
      const code = toInt(f[2]);
      if (epoch === undefined || code === undefined) return 'X: bad number';
      return { op: 'X', sid: f[0], epoch, code, reason: f[3] };
    }
    case 'E': {
      const f = cut(line, 2);
      if (!f) return 'E: too few fields';
      return { op: 'E', sid: f[0], reason: f[1] };
    }
    case 'D': {
      const f = cut(line, 2);
      if (!f) return 'D: too few fields';
      return { op: 'D', sid: f[0], gid: f[1] };
    }
    case 'R': {
      const f = cut(line, 3);
      if (!f) return 'R: too few fields';
      const lastSeq = toInt(f[2]);
      if (lastSeq === undefined) return 'R: bad seq';
      return { op: 'R', sid: f[0], gid: f[1], lastSeq };
    }
    default:
      return `unknown op ${JSON.stringify(op)}`;
  }
}

/**
 * Cuts `n` tab-separated fields after the op; the last field takes the rest of the line (payloads may in
 * principle contain tabs inside escaped JSON, never raw, but the grammar does not depend on it).
 */
function cut(line: string, n: number): [string, string, string, string] | undefined {
  const out: string[] = [];
  let pos = 2;
  for (let i = 0; i < n - 1; i++) {
    const next = line.indexOf(TAB, pos);
    if (next === -1) return undefined;
    out.push(line.slice(pos, next));
    pos = next + 1;
  }
  out.push(line.slice(pos));
  return out as [string, string, string, string];
}

function toInt(s: string | undefined): number | undefined {
  if (s === undefined || s.length === 0 || s.length > 15) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function sanitizeWord(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64);
}
