import { BUS_ENVELOPE_VERSION } from '@rtv/protocol';
import type { RedisClient } from './redis.js';
import { reconnectDelayMs } from './redis.js';

/**
 * ensureStream-1
 * Input: KEYS[1] stream; ARGV[1] TTL in ms.
 * Output: 1 when the stream was created, 0 when it existed (its TTL is refreshed either way).
 * An empty stream can only be made by adding an entry and trimming it away; the placeholder's field is `v0`,
 * which readers skip. Done in Lua so an existing stream's unread entries are never trimmed.
 */
const ENSURE_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[1], '*', 'v0', 'init')
  redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`;

/** The envelope field of the batches this reader delivers; any other field (`v0`, a newer version) is skipped. */
const V1 = Buffer.from(BUS_ENVELOPE_VERSION);

export interface StreamReaderOptions {
  /** The stream this process owns and reads (its in-/out-stream). */
  stream: string;
  /**
   * Dedicated connection for the blocking XREAD; it is disconnected on `stop()`, which is how a blocked read
   * is cut short. Never share it.
   */
  blocking: RedisClient;
  /** Connection for upkeep (creating the stream, TTL, trimming). May be shared. */
  commands: RedisClient;
  /**
   * Called with each v1 batch in stream order (bytes as written; decode with `decodeBatch`) and its entry id
   * (`<ms>-<n>`: Redis's clock when the batch was written, which gives the frame-path latency). Exceptions
   * are reported through `onError` and skipped.
   */
  onBatch: (batch: Buffer, id: string) => void;
  onError?: (err: Error) => void;
  /**
   * Entries per XREAD. @defaultValue 256
   */
  count?: number;
  /**
   * XREAD BLOCK timeout. It bounds nothing on shutdown (stop() disconnects) but sets how often an idle reader
   * wakes up. @defaultValue 5000
   */
  blockMs?: number;
  /**
   * TTL of the stream, refreshed by `maintain()`: if this process dies the stream expires on its own.
   * @defaultValue 30000
   */
  ttlMs?: number;
  /**
   * Longest run of batch handling before the reader lets the event loop take its turn (timers, sockets), when
   * one read returned a backlog. @defaultValue 20
   */
  sliceMs?: number;
}

/** Lets every timer and socket event that is due run (setImmediate runs after the poll phase). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The single reader of one stream (DESIGN §3: one reader per stream, batched). The owner creates the stream,
 * keeps its TTL fresh and trims what it has consumed; writers use NOMKSTREAM and never create it.
 */
export class StreamReader {
  private lastId = '0-0';
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly count: number;
  private readonly blockMs: number;
  private readonly ttlMs: number;
  private readonly sliceMs: number;

  constructor(private readonly opts: StreamReaderOptions) {
    this.count = opts.count ?? 256;
    this.sliceMs = opts.sliceMs ?? 20;
    this.blockMs = opts.blockMs ?? 5000;
    this.ttlMs = opts.ttlMs ?? 30_000;
  }

  async start(): Promise<void> {
    await this.ensureStream();
    this.loopDone = this.loop();
  }

  /**
   * Re-creates the stream if it vanished (e.g. Redis restarted without persistence), refreshes its TTL and
   * trims entries already consumed. Call it from the owner's heartbeat.
   */
  async maintain(): Promise<void> {
    await this.ensureStream();
    if (this.lastId !== '0-0') {
      await this.opts.commands.xtrim(this.opts.stream, 'MINID', '~', this.lastId);
    }
  }

  async stop(deleteStream = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.blocking.disconnect();
    await this.loopDone;
    if (deleteStream) await this.opts.commands.del(this.opts.stream).catch(() => undefined);
  }

  private async ensureStream(): Promise<void> {
    const created = await this.opts.commands.eval(ENSURE_STREAM, 1, this.opts.stream, this.ttlMs);
    if (created === 1) this.lastId = '0-0';
  }

  private async loop(): Promise<void> {
    const { blocking, stream } = this.opts;
    let failures = 0;
    while (!this.stopped) {
      try {
        const res = await blocking.xreadBuffer(
          'COUNT',
          this.count,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          stream,
          this.lastId,
        );
        failures = 0;
        if (!res) continue;
        let sliceStart = performance.now();
        for (const [, entries] of res) {
          for (const [rawId, fields] of entries) {
            const id = rawId.toString('latin1');
            this.lastId = id;
            this.deliver(id, fields);
            if (performance.now() - sliceStart >= this.sliceMs) {
              // A backlog (one XREAD of many full batches) is not handled in one go: timers (lease renewals,
              // heartbeats) and sockets get their turn between slices, as between two reads.
              await yieldToEventLoop();
              if (this.stopped) return;
              sliceStart = performance.now();
            }
          }
        }
      } catch (err) {
        if (this.stopped) break;
        this.opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, reconnectDelayMs(failures++)));
      }
    }
  }

  /** Id of the last entry delivered (`0-0` before the first); the heartbeat publishes it to measure lag. */
  get lastDeliveredId(): string {
    return this.lastId;
  }

  private deliver(id: string, fields: Buffer[]): void {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      // v0 entries (older writers) and unknown future versions are skipped.
      if (!name.equals(V1)) continue;
      try {
        this.opts.onBatch(fields[i + 1]!, id);
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
    }
  }
}
