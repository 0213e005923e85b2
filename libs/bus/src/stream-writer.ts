import { BUS_ENVELOPE_VERSION, encodeBatch } from '@rtv/protocol';
import type { BusWriter } from './bus-writer.js';
import { isCluster, type RedisClient } from './redis.js';

export interface StreamWriterOptions {
  /**
   * Approximate cap on entries per stream (`XADD … MAXLEN ~`). An entry is a whole batch, so this bounds how
   * far a reader may fall behind before the oldest batches are dropped.
   * @defaultValue 5000
   */
  maxLen?: number;
  /** Called when a flush fails or is skipped because Redis is not ready; the lines are not retried here. */
  onDrop?: (stream: string, lines: number, err: Error) => void;
  /** Called after every flushed entry, for metrics. */
  onFlush?: (stream: string, lines: number, bytes: number) => void;
  /**
   * Least time between two flushes. A line written when the last flush is older than this goes out at the
   * end of the current turn (no added latency at low load); otherwise it waits for the rest of the interval,
   * so under load each XADD carries many frames and Redis round trips stop growing with the frame rate.
   * @defaultValue 1
   */
  minFlushIntervalMs?: number;
  /**
   * Most bytes of lines in one stream entry. A flush that gathered more for a stream (a backlog after a stalled
   * turn, a replay to a new owner) writes several entries, so no single entry makes its reader, which yields
   * only between entries, or Redis work on one batch for long.
   * @defaultValue 262144 (256 KiB)
   */
  maxEntryBytes?: number;
  /**
   * Most bytes of lines one flush writes. A backlog beyond it (everything that arrived during a long turn) goes out
   * over the next turns, so the event loop keeps reading sockets between the slices instead of copying and
   * writing tens of MB in one go, which stalls the turn after it by as much, and so on.
   * @defaultValue 1048576 (1 MiB)
   */
  maxFlushBytes?: number;
  /**
   * When more than this many bytes wait in the connection's socket for Redis to take them, flushes pause until
   * it has taken them (checked every few milliseconds): the lines wait in the writer rather than in ever more
   * freshly allocated socket buffers. Single connections only (a cluster client spreads streams over nodes).
   * @defaultValue 8388608 (8 MiB)
   */
  maxBufferedBytes?: number;
}

/** How often a flush held back by {@link StreamWriterOptions.maxBufferedBytes} looks again. */
const BUFFERED_RECHECK_MS = 5;

/** Splits `lines` into runs of at most `maxBytes` bytes each (a longer single line is a run of its own). */
export function splitByBytes(lines: Uint8Array[], maxBytes: number): Uint8Array[][] {
  let total = 0;
  for (const line of lines) total += line.byteLength + 1;
  if (total <= maxBytes) return [lines];
  const runs: Uint8Array[][] = [];
  let run: Uint8Array[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = line.byteLength + 1;
    if (run.length > 0 && bytes + size > maxBytes) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(line);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Batches bus lines per destination stream and writes each batch with one XADD per stream, all sent in one
 * round trip (DESIGN §4.1: at most one Redis write per frame, and better fewer).
 *
 * The flush runs from `setImmediate`, i.e. after the poll phase has delivered every socket message that was
 * ready, so everything that arrived in one turn shares an entry; and never sooner than `minFlushIntervalMs`
 * after the previous flush, so under load a batch spans several turns. `NOMKSTREAM` means a writer never creates a
 * stream: only its reader does, so a stream whose reader is gone is not resurrected by late writers.
 */
export class StreamWriter implements BusWriter {
  private pending = new Map<string, Uint8Array[]>();
  private scheduled = false;
  private inflight: Promise<unknown> = Promise.resolve();
  private readonly maxLen: number;
  private readonly minIntervalMs: number;
  private readonly maxEntryBytes: number;
  private readonly maxFlushBytes: number;
  private readonly maxBufferedBytes: number;
  private lastFlushMs = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: StreamWriterOptions = {},
  ) {
    this.maxLen = opts.maxLen ?? 5000;
    this.minIntervalMs = opts.minFlushIntervalMs ?? 1;
    this.maxEntryBytes = opts.maxEntryBytes ?? 256 * 1024;
    this.maxFlushBytes = opts.maxFlushBytes ?? 1024 * 1024;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  }

  /**
   * Queues one line (built by the `encode*Line` functions) for `stream`; it is written at the end of the
   * current event-loop turn. The writer keeps the bytes as they are until the flush: do not reuse them.
   */
  write(stream: string, line: Uint8Array): void {
    let lines = this.pending.get(stream);
    if (lines === undefined) {
      lines = [];
      this.pending.set(stream, lines);
    }
    lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      const wait = this.lastFlushMs + this.minIntervalMs - performance.now();
      if (wait <= 0) setImmediate(this.flush);
      else setTimeout(this.flush, wait);
    }
  }

  /** Lines waiting for the next flush (for tests and metrics). */
  pendingLines(): number {
    let n = 0;
    for (const lines of this.pending.values()) n += lines.length;
    return n;
  }

  /** Flushes everything now (whatever its size) and resolves when every write so far has been answered by Redis. */
  async drain(): Promise<void> {
    this.scheduled = false;
    this.writeSome(Number.POSITIVE_INFINITY);
    await this.inflight;
  }

  private append(stream: string, lines: Uint8Array[]): Promise<void> {
    const value = encodeBatch(lines);
    return this.redis
      .xadd(stream, 'NOMKSTREAM', 'MAXLEN', '~', this.maxLen, '*', BUS_ENVELOPE_VERSION, value)
      .then(
        (id) =>
          // No id: the stream is gone (its reader re-creates it; a failed-over Redis may have lost it).
          id === null
            ? this.opts.onDrop?.(stream, lines.length, new Error('stream missing'))
            : this.opts.onFlush?.(stream, lines.length, value.length),
        (err: Error) => this.opts.onDrop?.(stream, lines.length, err),
      );
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const socket = isCluster(this.redis) ? undefined : this.redis.stream;
    if (
      socket !== undefined &&
      this.redis.status === 'ready' &&
      socket.writableLength > this.maxBufferedBytes
    ) {
      this.scheduled = true;
      setTimeout(this.flush, BUFFERED_RECHECK_MS);
      return;
    }
    this.writeSome(this.maxFlushBytes);
    if (this.pending.size > 0 && !this.scheduled) {
      // The rest of a backlog: after the next turn's I/O, not now.
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  /** Writes pending lines, at most `budget` bytes of them (at least one line), oldest first per stream. */
  private writeSome(budget: number): void {
    if (this.pending.size === 0) return;
    this.lastFlushMs = performance.now();
    if (this.redis.status !== 'ready') {
      const err = new Error(`Redis not ready (${this.redis.status})`);
      for (const [stream, lines] of this.pending) this.opts.onDrop?.(stream, lines.length, err);
      this.pending = new Map();
      return;
    }
    const entries: Array<[string, Uint8Array[]]> = [];
    for (const [stream, lines] of this.take(budget)) {
      for (const run of splitByBytes(lines, this.maxEntryBytes)) entries.push([stream, run]);
    }
    // One command per entry, no pipeline object: ioredis joins a pipeline's commands into one buffer, a copy of
    // every byte of the flush. On a single connection the socket is corked while the commands are written, so
    // they still leave in one system call (writev); on a cluster every stream is a slot of its own and the
    // client writes each command to its node's connection, in order per stream.
    const socket = isCluster(this.redis) ? undefined : this.redis.stream;
    const cork = socket !== undefined && socket.writable && entries.length > 1;
    if (cork) socket.cork();
    try {
      const writes: Array<Promise<void>> = [];
      for (const [stream, lines] of entries) writes.push(this.append(stream, lines));
      this.inflight = writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
    } finally {
      if (cork) socket.uncork();
    }
  }

  /**
   * Takes up to `budget` bytes of pending lines out of the queue. A stream left with lines goes to the back of
   * the queue, so one stream's backlog does not hold up the others' lines.
   */
  private take(budget: number): Array<[string, Uint8Array[]]> {
    if (budget === Number.POSITIVE_INFINITY) {
      const all = [...this.pending];
      this.pending = new Map();
      return all;
    }
    const out: Array<[string, Uint8Array[]]> = [];
    let bytes = 0;
    for (const [stream, lines] of [...this.pending]) {
      let n = 0;
      while (n < lines.length && (bytes === 0 || bytes + lines[n]!.byteLength <= budget)) {
        bytes += lines[n]!.byteLength + 1;
        n++;
      }
      if (n === 0) break;
      this.pending.delete(stream);
      if (n === lines.length) {
        out.push([stream, lines]);
      } else {
        out.push([stream, lines.slice(0, n)]);
        this.pending.set(stream, lines.slice(n));
      }
      if (bytes >= budget) break;
    }
    return out;
  }
}
