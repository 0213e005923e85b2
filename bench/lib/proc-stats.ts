/**
 * CPU seconds and resident memory of the processes under test, read from /proc (Linux), plus Redis through
 * INFO when its process is not ours to read. A meter takes CPU before and after a measured window and samples
 * RSS during it for the peak.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';

/** What a process is in the comparison: its CPU is added up per role. */
export type ProcessRole = 'server' | 'redis' | 'provider' | 'loadgen' | 'aux';

export interface ProcessStat {
  name: string;
  role: ProcessRole;
  pid: number | null;
  cpuSeconds: number;
  /** CPU over the window's wall time: 100 = one core busy the whole time. */
  cpuPercent: number;
  rssPeakMB: number;
  rssEndMB: number;
  /**
   * Times the process's main thread went to sleep and was woken over the window (its voluntary context
   * switches: for an event loop, each return from `epoll_wait` that had to wait); null when not readable.
   */
  wakeups: number | null;
  /**
   * Seconds the process's main thread spent runnable but waiting for a CPU over the window (the run-queue wait in
   * `/proc/<pid>/schedstat`): latency that no code of the process can remove; null when not readable.
   */
  cpuWaitSeconds: number | null;
  /** {@link cpuWaitSeconds} over the window's wall time, in %; null when not readable. */
  cpuWaitPercent: number | null;
}

/** Something whose CPU and memory can be read. */
export interface Probe {
  readonly name: string;
  readonly role: ProcessRole;
  readonly pid: number | null;
  cpuSeconds(): Promise<number>;
  rssBytes(): Promise<number>;
  /** Voluntary context switches of the main thread so far (see {@link procWakeups}); NaN when unknown. */
  wakeups(): number;
  /** Seconds its main thread has waited on a run queue so far (see {@link procRunQueueWaitSeconds}); NaN when unknown. */
  cpuWaitSeconds(): number;
  /** Resets the kernel's peak-RSS mark where possible, so a window's peak is its own. */
  resetPeak(): void;
  /** The peak since the last reset when the kernel tracks it, else undefined. */
  peakBytes(): number | undefined;
}

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** utime + stime of a process in seconds, or NaN when it is gone. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields are counted from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** `VmRSS` and `VmHWM` (peak) of a process in bytes; zeros when it is gone. */
export function procMemory(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/**
 * Voluntary context switches of a process's main thread (`/proc/<pid>/status` reports the thread-group leader
 * only): how often its event loop blocked and had to be woken. NaN when the process is gone.
 */
export function procWakeups(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const n = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1];
    return n === undefined ? Number.NaN : Number(n);
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds a process's main thread has spent runnable but not running, waiting on a CPU's run queue: the second
 * field of `/proc/<pid>/schedstat` (nanoseconds; the thread-group leader only, as for wake-ups). On a machine
 * whose cores are shared by more runnable threads than it has, every hop of a frame pays this. NaN when the
 * process is gone or the kernel keeps no scheduler statistics.
 */
export function procRunQueueWaitSeconds(pid: number): number {
  try {
    const waitNs = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1];
    return waitNs === undefined || waitNs === '' ? Number.NaN : Number(waitNs) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/**
 * A process read through /proc. `ownPeak` allows resetting its peak-RSS mark: only for processes this
 * benchmark started, never for a shared one such as a Redis others use.
 */
export function pidProbe(name: string, role: ProcessRole, pid: number, ownPeak = true): Probe {
  let peakResettable = false;
  return {
    name,
    role,
    pid,
    cpuSeconds: async () => procCpuSeconds(pid),
    rssBytes: async () => procMemory(pid).rss,
    wakeups: () => procWakeups(pid),
    cpuWaitSeconds: () => procRunQueueWaitSeconds(pid),
    resetPeak() {
      if (!ownPeak) return;
      try {
        // "5" resets VmHWM to the current RSS (proc(5), clear_refs); needs the right to ptrace the process.
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
        peakResettable = true;
      } catch {
        peakResettable = false;
      }
    },
    peakBytes: () => (peakResettable ? procMemory(pid).peak : undefined),
  };
}

export function infoField(info: string, field: string): number {
  return Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
}

/**
 * Redis, measured through its own process when it runs on this machine (INFO `process_id` visible in /proc
 * as a redis-server), else through INFO `used_cpu_*` and `used_memory_rss`. Either way it is the whole
 * server: other clients of a shared Redis are counted too.
 */
export async function redisProbe(redis: Redis): Promise<Probe> {
  const info = await redis.info('server');
  const pid = infoField(info, 'process_id');
  let local = false;
  try {
    local = Number.isInteger(pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis');
  } catch {
    local = false;
  }
  if (local) return pidProbe('redis', 'redis', pid, false);
  return {
    name: 'redis',
    role: 'redis',
    pid: null,
    async cpuSeconds() {
      const cpu = await redis.info('cpu');
      return infoField(cpu, 'used_cpu_user') + infoField(cpu, 'used_cpu_sys');
    },
    async rssBytes() {
      return infoField(await redis.info('memory'), 'used_memory_rss');
    },
    wakeups: () => Number.NaN,
    cpuWaitSeconds: () => Number.NaN,
    resetPeak() {},
    peakBytes: () => undefined,
  };
}

const MB = 1024 * 1024;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** One measured window over a set of probes: CPU delta, peak and final RSS. */
export class Meter {
  private cpuStart = new Map<Probe, number>();
  private wakeupsStart = new Map<Probe, number>();
  private cpuWaitStart = new Map<Probe, number>();
  private peaks = new Map<Probe, number>();
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly probes: Probe[],
    private readonly sampleEveryMs = 250,
  ) {}

  async start(): Promise<void> {
    for (const p of this.probes) p.resetPeak();
    await this.sample();
    this.startedAt = performance.now();
    const starts = await Promise.all(this.probes.map((p) => p.cpuSeconds()));
    this.probes.forEach((p, i) => {
      this.cpuStart.set(p, starts[i]!);
      this.wakeupsStart.set(p, p.wakeups());
      this.cpuWaitStart.set(p, p.cpuWaitSeconds());
    });
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, this.sampleEveryMs);
  }

  async stop(): Promise<ProcessStat[]> {
    clearInterval(this.timer);
    await this.sampling;
    const wallS = (performance.now() - this.startedAt) / 1000;
    const ends = await Promise.all(this.probes.map((p) => p.cpuSeconds()));
    const wakeups = this.probes.map((p) => p.wakeups() - (this.wakeupsStart.get(p) ?? Number.NaN));
    const cpuWaits = this.probes.map((p) => p.cpuWaitSeconds() - (this.cpuWaitStart.get(p) ?? Number.NaN));
    const rss = await Promise.all(this.probes.map((p) => p.rssBytes()));
    return this.probes.map((p, i) => {
      const cpu = ends[i]! - (this.cpuStart.get(p) ?? Number.NaN);
      const peak = Math.max(this.peaks.get(p) ?? 0, p.peakBytes() ?? 0, rss[i]!);
      return {
        name: p.name,
        role: p.role,
        pid: p.pid,
        cpuSeconds: round(cpu, 3),
        cpuPercent: wallS > 0 ? round((cpu / wallS) * 100, 1) : 0,
        rssPeakMB: round(peak / MB, 1),
        rssEndMB: round(rss[i]! / MB, 1),
        wakeups: Number.isFinite(wakeups[i]) ? wakeups[i]! : null,
        cpuWaitSeconds: Number.isFinite(cpuWaits[i]) ? round(cpuWaits[i]!, 3) : null,
        cpuWaitPercent:
          Number.isFinite(cpuWaits[i]) && wallS > 0 ? round((cpuWaits[i]! / wallS) * 100, 1) : null,
      };
    });
  }

  private async sample(): Promise<void> {
    const values = await Promise.all(this.probes.map((p) => p.rssBytes().catch(() => 0)));
    this.probes.forEach((p, i) => {
      this.peaks.set(p, Math.max(this.peaks.get(p) ?? 0, values[i]!));
    });
  }
}

/** CPU seconds of every process with `role`, summed (NaN-safe: a vanished process counts 0). */
export function cpuOfRole(stats: ProcessStat[], ...roles: ProcessRole[]): number {
  return stats.filter((s) => roles.includes(s.role)).reduce((t, s) => t + (s.cpuSeconds || 0), 0);
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  kernel: string;
  openFilesLimit: number | null;
}

/** The soft open-files limit this process runs under (children inherit it). */
export function openFilesLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft ? Number(soft) : null;
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    openFilesLimit: openFilesLimit(),
  };
}

/** The 1-minute load average, recorded beside every figure because this machine is shared. */
export function loadAverage1m(): number {
  return round(os.loadavg()[0] ?? 0, 2);
}
