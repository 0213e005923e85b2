import { describe, expect, it } from 'vitest';
import { ConnectGate } from '../src/upstream/connect-gate.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ConnectGate', () => {
  it('runs at most `limit` connects at once, the rest in arrival order, and reports the queue', async () => {
    const waitingSeen: number[] = [];
    const gate = new ConnectGate(3, (n) => waitingSeen.push(n));
    const started: number[] = [];
    const connects = Array.from({ length: 8 }, () => deferred<string>());
    const results = connects.map((d, i) =>
      gate.run(() => {
        started.push(i);
        return d.promise;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1, 2]);
    expect(gate.load).toEqual({ active: 3, waiting: 5 });
    connects[1]!.resolve('one');
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    // A failed connect frees its slot too, and its error reaches the caller.
    connects[0]!.reject(new Error('refused'));
    await expect(results[0]).rejects.toThrow('refused');
    await tick();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    for (const d of connects) d.resolve('ok');
    await Promise.allSettled(results);
    await tick();
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await results[1]).toBe('one');
    expect(gate.load).toEqual({ active: 0, waiting: 0 });
    expect(Math.max(...waitingSeen)).toBe(5);
    expect(waitingSeen.at(-1)).toBe(0);
  });

  it('never lets more than the limit run under a random load', async () => {
    const gate = new ConnectGate(4);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        gate.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, i % 3));
          running--;
        }),
      ),
    );
    expect(peak).toBe(4);
  });
});
