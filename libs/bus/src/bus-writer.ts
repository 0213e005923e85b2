import { type BusLine, decodeBatch, encodeBatch } from '@rtv/protocol';

/**
 * Where services put bus lines: one destination stream per line. `StreamWriter` is the Redis implementation;
 * `MemoryBusWriter` is its in-memory twin for unit tests of the classes that write lines.
 */
export interface BusWriter {
  /** Queues one line (built by the `encode*Line` functions) for `stream`. Do not reuse the bytes. */
  write(stream: string, line: Uint8Array): void;
  /** Resolves when every line written so far has been handed to the bus. */
  drain(): Promise<void>;
}

/**
 * Keeps every written line per stream, decoded on demand. Lines are copied at `write`, as the Redis writer's
 * flush makes them independent of the caller's buffer.
 */
export class MemoryBusWriter implements BusWriter {
  private readonly streams = new Map<string, Uint8Array[]>();

  write(stream: string, line: Uint8Array): void {
    let lines = this.streams.get(stream);
    if (lines === undefined) {
      lines = [];
      this.streams.set(stream, lines);
    }
    lines.push(Uint8Array.from(line));
  }

  async drain(): Promise<void> {}

  /** The decoded lines written to `stream`, oldest first. */
  lines(stream: string): BusLine[] {
    const raw = this.streams.get(stream);
    if (raw === undefined || raw.length === 0) return [];
    const out: BusLine[] = [];
    decodeBatch(
      encodeBatch(raw),
      (line) => out.push(copyLine(line)),
      (_raw, why) => {
        throw new Error(`malformed bus line: ${why}`);
      },
    );
    return out;
  }

  /** Streams that received at least one line. */
  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  /** Forgets everything written so far. */
  clear(): void {
    this.streams.clear();
  }
}

/** Payload views point into the batch being decoded; a kept line gets its own copy. */
function copyLine(line: BusLine): BusLine {
  return 'payload' in line ? ({ ...line, payload: Buffer.from(line.payload) } as BusLine) : { ...line };
}
