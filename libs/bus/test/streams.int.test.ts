import type { RedisClient } from '@rtv/bus';
import {
  createKeys,
  createRedis,
  isCluster,
  randomId,
  StreamReader,
  StreamWriter,
  waitReady,
} from '@rtv/bus';
import {
  BUS_ENVELOPE_VERSION,
  decodeBatch,
  encodeAckLine,
  encodeClientFrameLine,
  FrameKind,
} from '@rtv/protocol';
import { createTestRedis, freePort, PrivateRedis, type TestRedis, waitFor } from '@rtv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

describe('StreamWriter + StreamReader on a real Redis', () => {
  let t: TestRedis;
  let conns: RedisClient[];
  beforeEach(async () => {
    t = await createTestRedis('bus');
    conns = [];
  });
  afterEach(async () => {
    for (const c of conns) c.disconnect();
    await t.cleanup();
  });
  const connect = async (name: string) => {
    const c = createRedis(t.url, { name });
    conns.push(c);
    await waitReady(c);
    return c;
  };
  /** A started reader per stream, each recording the seqs of its lines with op `op` in the order delivered. */
  const readEach = async (streams: string[], op: 'A' | 'F') => {
    const received = new Map<string, number[]>(streams.map((s) => [s, []]));
    const readers = await Promise.all(
      streams.map(async (stream) => {
        const reader = new StreamReader({
          stream,
          blocking: await connect(`reader-${stream}`),
          commands: await connect(`reader-cmd-${stream}`),
          onBatch: (batch) => decodeBatch(batch, (l) => l.op === op && received.get(stream)!.push(l.seq)),
        });
        await reader.start();
        return reader;
      }),
    );
    return { received, readers };
  };

  it('batches a turn of writes into one entry per stream and delivers every line in order', async () => {
    const keys = createKeys(t.prefix);
    const stream = keys.gatewayOut('gw-a');
    const received: number[] = [];
    let batches = 0;
    const reader = new StreamReader({
      stream,
      blocking: await connect('reader'),
      commands: await connect('reader-cmd'),
      onBatch: (batch) => {
        batches++;
        decodeBatch(batch, (l) => l.op === 'A' && received.push(l.seq));
      },
    });
    await reader.start();
    const writer = new StreamWriter(await connect('writer'));
    for (let i = 1; i <= 1000; i++) writer.write(stream, encodeAckLine('s', 1, i));
    expect(writer.pendingLines()).toBe(1000);
    await writer.drain();
    await waitFor(() => received.length === 1000, { message: '1000 lines delivered' });
    expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // One turn, one XADD: the batching factor is the whole turn.
    expect(batches).toBe(1);
    await reader.stop();
    expect(await t.redis.exists(stream)).toBe(0);
  });

  it('sends a line at the end of its turn when the last flush is older than the interval, else holds it for the rest of the interval', async () => {
    const keys = createKeys(t.prefix);
    const stream = keys.gatewayOut('gw-interval');
    const reader = new StreamReader({
      stream,
      blocking: await connect('reader'),
      commands: await connect('reader-cmd'),
      onBatch: () => {},
    });
    await reader.start();
    const flushes: Array<{ lines: number; at: number }> = [];
    const intervalMs = 200;
    const writer = new StreamWriter(await connect('writer'), {
      minFlushIntervalMs: intervalMs,
      onFlush: (_stream, lines) => flushes.push({ lines, at: performance.now() }),
    });
    const nextTurn = () => new Promise((r) => setImmediate(r));

    // Nothing flushed yet: the first line leaves at the end of its turn, with no wait.
    const first = performance.now();
    writer.write(stream, encodeAckLine('s', 1, 1));
    await waitFor(() => flushes.length === 1, { message: 'first line flushed' });
    expect(flushes[0]!.lines).toBe(1);
    expect(flushes[0]!.at - first).toBeLessThan(intervalMs / 2);

    // Lines of later turns inside the interval wait for its end and share one entry.
    writer.write(stream, encodeAckLine('s', 1, 2));
    await nextTurn();
    writer.write(stream, encodeAckLine('s', 1, 3));
    await new Promise((r) => setTimeout(r, 10));
    writer.write(stream, encodeAckLine('s', 1, 4));
    expect(flushes).toHaveLength(1);
    await waitFor(() => flushes.length === 2, { message: 'held lines flushed' });
    expect(flushes[1]!.lines).toBe(3);
    // `at` is taken when a flush's XADD is answered, so the gap may be short of the interval by the first
    // flush's round trip (and the timer's millisecond rounding); without the hold it would be a few ms.
    expect(flushes[1]!.at - flushes[0]!.at).toBeGreaterThanOrEqual(intervalMs / 2);

    // With 0 there is no interval: every turn that wrote is its own entry.
    const eager: number[] = [];
    const eagerWriter = new StreamWriter(await connect('eager'), {
      minFlushIntervalMs: 0,
      onFlush: (_stream, lines) => eager.push(lines),
    });
    for (let seq = 10; seq < 13; seq++) {
      eagerWriter.write(stream, encodeAckLine('s', 1, seq));
      await nextTurn();
    }
    await eagerWriter.drain();
    await waitFor(() => eager.length === 3, { message: 'three entries' });
    expect(eager).toEqual([1, 1, 1]);
    await reader.stop();
  });

  it('writes a backlog larger than maxFlushBytes over several turns, letting timers run between them, every line in order', async () => {
    const keys = createKeys(t.prefix);
    const big = keys.workerIn(randomId('wk-', 6));
    const small = keys.workerIn(randomId('wk-', 6));
    const { received, readers } = await readEach([big, small], 'F');
    let ticks = 0;
    const flushes: Array<{ stream: string; lines: number; ticks: number }> = [];
    const writer = new StreamWriter(await connect('writer'), {
      maxFlushBytes: 64 * 1024,
      maxEntryBytes: 16 * 1024,
      onFlush: (stream, lines) => flushes.push({ stream, lines, ticks }),
    });
    const ticker = setInterval(() => ticks++, 0);
    // 2 MiB of 1,300-byte audio lines for one stream in one turn (what a gateway reads after a long stall), and
    // after them a single line for another stream.
    const audio = 'A'.repeat(1300);
    const count = 1600;
    for (let seq = 1; seq <= count; seq++)
      writer.write(big, encodeClientFrameLine('s1', seq, FrameKind.Audio, audio));
    writer.write(small, encodeClientFrameLine('s2', 1, FrameKind.Audio, audio));
    await waitFor(() => received.get(big)!.length === count && received.get(small)!.length === 1, {
      message: 'every line delivered',
    });
    clearInterval(ticker);
    expect(received.get(big)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // About 2 MiB in slices of 64 KiB: thirty turns or more, and timers ran while they went out.
    const rounds = new Set(flushes.map((f) => f.ticks));
    expect(rounds.size).toBeGreaterThan(5);
    // The other stream's line went out with the second slice, not after the whole backlog.
    const smallAt = flushes.findIndex((f) => f.stream === small);
    const bigLinesBefore = flushes
      .slice(0, smallAt)
      .reduce((n, f) => n + (f.stream === big ? f.lines : 0), 0);
    expect(bigLinesBefore).toBeLessThan(count / 4);
    for (const reader of readers) await reader.stop();
  });

  it('pauses its flushes while the socket holds more than maxBufferedBytes for a Redis that stopped reading, and loses nothing', async () => {
    const server = new PrivateRedis(await freePort(), false);
    await server.start();
    try {
      const own = (name: string) => {
        const c = createRedis(server.url, { name });
        conns.push(c);
        return c;
      };
      const [readerConn, readerCmd, writerConn] = [own('reader'), own('reader-cmd'), own('writer')];
      await Promise.all([waitReady(readerConn), waitReady(readerCmd), waitReady(writerConn)]);
      const stream = `paused:${randomId('wk-', 6)}`;
      const received: number[] = [];
      const reader = new StreamReader({
        stream,
        blocking: readerConn,
        commands: readerCmd,
        onBatch: (batch) => decodeBatch(batch, (l) => l.op === 'F' && received.push(l.seq)),
      });
      await reader.start();
      const maxBufferedBytes = 256 * 1024;
      const maxFlushBytes = 128 * 1024;
      const writer = new StreamWriter(writerConn, { maxBufferedBytes, maxFlushBytes, minFlushIntervalMs: 0 });
      process.kill(server.pid!, 'SIGSTOP');
      let most = 0;
      const audio = 'B'.repeat(1300);
      let seq = 0;
      try {
        // 16 MiB over 64 turns while Redis reads nothing: far more than the kernel's socket buffers hold.
        for (let turn = 0; turn < 64; turn++) {
          for (let i = 0; i < 200; i++)
            writer.write(stream, encodeClientFrameLine('s', ++seq, FrameKind.Audio, audio));
          await new Promise((r) => setTimeout(r, 2));
          most = Math.max(most, isCluster(writerConn) ? 0 : writerConn.stream.writableLength);
        }
      } finally {
        process.kill(server.pid!, 'SIGCONT');
      }
      // What waits in the socket stays near the bound (one flush may start just under it).
      expect(most).toBeLessThanOrEqual(maxBufferedBytes + maxFlushBytes + 64 * 1024);
      expect(writer.pendingLines()).toBeGreaterThan(0);
      await waitFor(() => received.length === seq, { message: 'every line delivered', timeoutMs: 20_000 });
      expect(received).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
      await reader.stop();
    } finally {
      await server.stop();
    }
  });

  it('splits a flush larger than maxEntryBytes into entries of at most that size, every line in order', async () => {
    const keys = createKeys(t.prefix);
    const streams = [keys.workerIn('wk-split-a'), keys.workerIn('wk-split-b')];
    const { received, readers } = await readEach(streams, 'A');
    const writer = new StreamWriter(await connect('writer'), { maxEntryBytes: 4096 });
    // One line far above the cap goes alone in an entry of its own, in its place.
    const big = encodeAckLine(`s${'x'.repeat(6000)}`, 1, 0);
    for (let i = 1; i <= 1000; i++) {
      writer.write(streams[0]!, encodeAckLine('s', 1, i));
      if (i === 500) writer.write(streams[0]!, big);
      writer.write(streams[1]!, encodeAckLine('s', 2, i));
    }
    await writer.drain();
    await waitFor(
      () => received.get(streams[0]!)!.length === 1001 && received.get(streams[1]!)!.length === 1000,
      {
        message: 'every line delivered',
      },
    );
    const first = Array.from({ length: 1000 }, (_, i) => i + 1);
    first.splice(500, 0, 0);
    expect(received.get(streams[0]!)).toEqual(first);
    expect(received.get(streams[1]!)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (const stream of streams) {
      const entries = await t.redis.xrangeBuffer(stream, '-', '+');
      const sizes = entries.map(([, fields]) => fields[1]!.length);
      expect(sizes.length).toBeGreaterThan(1);
      for (const size of sizes) expect(size <= 4096 || size === big.byteLength).toBe(true);
    }
    for (const reader of readers) await reader.stop();
  });

  it('lets timers run while it works through a backlog, and still delivers it whole and in order', async () => {
    const keys = createKeys(t.prefix);
    const stream = keys.workerIn(randomId('wk-', 6));
    // 200 entries wait before the reader starts: its first XREAD returns a backlog of 200 batches.
    for (let i = 1; i <= 200; i++) {
      await t.redis.xadd(stream, '*', BUS_ENVELOPE_VERSION, encodeAckLine('s', 1, i));
    }
    const got: number[] = [];
    let lastTick = performance.now();
    let longestGapMs = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - lastTick);
      lastTick = now;
    }, 5);
    const reader = new StreamReader({
      stream,
      blocking: await connect('reader'),
      commands: await connect('reader-cmd'),
      // Each batch costs 4 ms of CPU: 0.8 s for the backlog, which without slices would starve every timer.
      onBatch: (batch) => {
        const until = performance.now() + 4;
        while (performance.now() < until);
        decodeBatch(batch, (l) => l.op === 'A' && got.push(l.seq));
      },
      sliceMs: 20,
    });
    try {
      await t.redis.xadd(stream, '*', 'v0', 'created');
      lastTick = performance.now();
      await reader.start();
      await waitFor(() => got.length === 200, { message: 'the backlog delivered' });
    } finally {
      clearInterval(timer);
      await reader.stop();
    }
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // Slices of 20 ms: a 5 ms timer waits about two slices at most, never the whole 0.8 s backlog.
    expect(longestGapMs).toBeLessThan(300);
  });

  it('never creates a stream that has no reader (NOMKSTREAM)', async () => {
    const keys = createKeys(t.prefix);
    const writer = new StreamWriter(await connect('writer'));
    writer.write(keys.workerIn('ghost'), encodeAckLine('s', 1, 1));
    await writer.drain();
    expect(await t.redis.exists(keys.workerIn('ghost'))).toBe(0);
  });

  it('re-creates its stream after it vanished and keeps reading; skips unknown envelope versions', async () => {
    const keys = createKeys(t.prefix);
    const stream = keys.workerIn(randomId('wk-', 6));
    const got: number[] = [];
    const reader = new StreamReader({
      stream,
      blocking: await connect('reader'),
      commands: await connect('reader-cmd'),
      onBatch: (batch) => decodeBatch(batch, (l) => l.op === 'A' && got.push(l.seq)),
      blockMs: 200,
    });
    await reader.start();
    const writer = new StreamWriter(await connect('writer'));
    writer.write(stream, encodeAckLine('s', 1, 1));
    await writer.drain();
    await waitFor(() => got.length === 1);
    await t.redis.xadd(stream, '*', 'v9', 'from the future');
    await t.redis.del(stream);
    await reader.maintain();
    expect(await t.redis.exists(stream)).toBe(1);
    expect(await t.redis.pttl(stream)).toBeGreaterThan(0);
    writer.write(stream, encodeAckLine('s', 1, 2));
    await writer.drain();
    await waitFor(() => got.length === 2, { message: 'line after re-creation delivered' });
    expect(got).toEqual([1, 2]);
    await reader.stop();
  });

  it('maintain() trims consumed entries but never unread ones', async () => {
    const keys = createKeys(t.prefix);
    const stream = keys.gatewayOut('gw-trim');
    let batches = 0;
    const reader = new StreamReader({
      stream,
      blocking: await connect('reader'),
      commands: await connect('reader-cmd'),
      onBatch: () => batches++,
    });
    await reader.start();
    const writer = new StreamWriter(await connect('writer'));
    for (let i = 0; i < 300; i++) {
      writer.write(stream, encodeAckLine('s', 1, i + 1));
      await writer.drain();
    }
    await waitFor(() => batches === 300);
    await reader.maintain();
    // MINID ~ trims whole macro nodes only, so some consumed entries may remain, never more than were written.
    expect(await t.redis.xlen(stream)).toBeLessThan(300);
    await reader.stop();
  });

  it('reports writes it cannot make while Redis is not ready, instead of queueing them forever', async () => {
    const dead = createRedis('redis://127.0.0.1:1', { name: 'dead' });
    conns.push(dead);
    const drops: number[] = [];
    const writer = new StreamWriter(dead, { onDrop: (_s, n) => drops.push(n) });
    writer.write('x', encodeAckLine('s', 1, 1));
    writer.write('x', encodeAckLine('s', 1, 2));
    await writer.drain();
    expect(drops).toEqual([2]);
    expect(BUS_ENVELOPE_VERSION).toBe('v1');
  });
});
