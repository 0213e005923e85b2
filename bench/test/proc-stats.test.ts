// The bench's per-process readings from /proc, taken of a real child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Meter, pidProbe, procRunQueueWaitSeconds, procWakeups } from '../lib/proc-stats.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A Node process that, on each line read from stdin, sleeps on `n` timers one after another, then says done. */
async function sleeper(): Promise<ChildProcess> {
  const script = `
process.stdin.setEncoding('utf8');
process.stdin.on('data', async (text) => {
  const n = Number(text.trim());
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 3));
  process.stdout.write('done\\n');
});
process.stdout.write('ready\\n');
`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await once(child.stdout!, 'data');
  return child;
}

async function sleepIn(child: ChildProcess, timers: number): Promise<void> {
  child.stdin!.write(`${timers}\n`);
  await once(child.stdout!, 'data');
}

describe('wake-ups from /proc', () => {
  it("counts a process's main-thread sleeps: one at least per timer it waited on", async () => {
    const child = await sleeper();
    const before = procWakeups(child.pid!);
    await sleepIn(child, 40);
    const after = procWakeups(child.pid!);
    expect(Number.isInteger(before)).toBe(true);
    expect(after - before).toBeGreaterThanOrEqual(40);
    // An idle event loop does not wake up on its own (no timers, no I/O): a few at most, not one per 3 ms.
    await new Promise((r) => setTimeout(r, 300));
    expect(procWakeups(child.pid!) - after).toBeLessThan(20);
  });

  it('is NaN for a process that is gone', async () => {
    const child = await sleeper();
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(procWakeups(child.pid!)).toBeNaN();
  });

  it("gives a meter's window the wake-ups that happened in it", async () => {
    const child = await sleeper();
    await sleepIn(child, 100); // before the window: not counted
    const meter = new Meter([pidProbe('sleeper', 'aux', child.pid!, false)]);
    await meter.start();
    await sleepIn(child, 30);
    const [stat] = await meter.stop();
    expect(stat!.wakeups).toBeGreaterThanOrEqual(30);
    expect(stat!.wakeups).toBeLessThan(100);
  });
});

/** A Node process on CPU 0 only that, on each line `ms`, runs (busy) until it has used that much CPU, then says done. */
async function spinnerOnCpu0(): Promise<ChildProcess> {
  const script = `
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
  const used = () => { const u = process.cpuUsage(); return u.user + u.system; };
  const until = used() + Number(text.trim()) * 1000;
  while (used() < until);
  process.stdout.write('done\\n');
});
process.stdout.write('ready\\n');
`;
  const child = spawn('taskset', ['-c', '0', process.execPath, '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  await once(child.stdout!, 'data');
  return child;
}

describe('run-queue wait from /proc', () => {
  it("measures a window's time runnable but not running: two hogs on the same CPU leave a third two thirds", async () => {
    const [measured, hogA, hogB] = await Promise.all([spinnerOnCpu0(), spinnerOnCpu0(), spinnerOnCpu0()]);
    const meter = new Meter([pidProbe('spinner', 'aux', measured.pid!, false)]);
    await meter.start();
    const startedAt = performance.now();
    // The hogs run longer than the measured one, so it shares CPU 0 with both for all of its 300 ms of CPU.
    hogA.stdin!.write('1500\n');
    hogB.stdin!.write('1500\n');
    await spinFor(measured, 300);
    const wallS = (performance.now() - startedAt) / 1000;
    const [stat] = await meter.stop();
    // About 0.6 s waited for 0.3 s run: more than the CPU it used (its run time, the other field, would not be).
    expect(stat!.cpuWaitSeconds).toBeGreaterThan(1.4 * stat!.cpuSeconds);
    // Always runnable in the window: run time plus run-queue wait is the window's wall time.
    expect(stat!.cpuWaitSeconds! + stat!.cpuSeconds).toBeGreaterThan(0.75 * wallS);
    expect(stat!.cpuWaitSeconds! + stat!.cpuSeconds).toBeLessThan(1.25 * wallS);
    expect(stat!.cpuWaitPercent).toBeGreaterThan(40);
  });

  it('is NaN for a process that is gone', async () => {
    const child = await sleeper();
    expect(procRunQueueWaitSeconds(child.pid!)).toBeGreaterThanOrEqual(0);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(procRunQueueWaitSeconds(child.pid!)).toBeNaN();
  });
});

async function spinFor(child: ChildProcess, cpuMs: number): Promise<void> {
  child.stdin!.write(`${cpuMs}\n`);
  await once(child.stdout!, 'data');
}
