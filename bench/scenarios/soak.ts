/**
 * `soak` (issue 16): a real stack as separate processes under a moderate voice load for minutes, while workers
 * are SIGKILLed, a gateway is drained and Redis is restarted. It checks what must hold however long it runs:
 * every frame a client sent is echoed (0 lost), no session ends or hangs; and it reports what shows a slow
 * problem: each fault's pause, and every process's memory over time.
 *
 *   npm run bench -- soak [--minutes 10] [--sessions 12] [--kill-every 120] [--redis-persistence]
 *
 * tests/durability/soak-smoke.int.test.ts runs this code for one minute (`runSoak`) in `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadAverage1m, machineInfo } from '../lib/proc-stats.js';
import { killAllLaunched, REPO_ROOT } from '../lib/processes.js';
import { RssSampler } from '../lib/rss-sampler.js';
import { FaultInjector, type FaultRecord, type PlannedFault, planFaults } from '../lib/soak-faults.js';
import { parseSoakOptions, SOAK_HELP, type SoakOptions } from '../lib/soak-options.js';
import {
  failuresOf,
  faultResults,
  type RunTimes,
  type SoakReport,
  sessionResult,
  totalsOf,
} from '../lib/soak-report.js';
import { SoakStack } from '../lib/soak-stack.js';
import { renderSoakSummary } from '../lib/soak-summary.js';
import { FRAME_MS } from '../load/frames.js';
import { SoakClient } from '../load/soak-client.js';
import { sleep } from './context.js';

/** How long echoes may trail the end of streaming before the frames still missing count as lost. */
const DRAIN_MS = 20_000;
const PROGRESS_EVERY_MS = 30_000;

export interface SoakIo {
  log: (line: string) => void;
  /** Each service process's last output goes here when it ends. */
  logDir: string;
  /** The command line, for the report. */
  command?: string;
}

/** One soak run: the stack, the clients, the fault schedule and the clock they share. */
class SoakRun {
  private t0 = performance.now();
  private readonly nowMs = () => performance.now() - this.t0;
  private readonly nowS = () => this.nowMs() / 1000;
  private readonly durationMs: number;
  private readonly errors: string[] = [];
  private loadStart = 0;
  /** The streaming start as Unix ms, to place crashes (recorded in wall time) on the soak clock. */
  private t0Wall = Date.now();

  constructor(
    private readonly options: SoakOptions,
    private readonly io: SoakIo,
  ) {
    this.durationMs = options.minutes * 60_000;
  }

  async run(): Promise<SoakReport> {
    const startedAt = new Date();
    this.loadStart = loadAverage1m();
    const { log, logDir } = this.io;
    log(`starting redis-server, local engine (echo), 3 session workers and 2 gateways; logs in ${logDir}`);
    const stack = await SoakStack.start({ ...this.options, logDir });
    const clients: SoakClient[] = [];
    try {
      await this.openClients(stack, clients);
      const sampler = new RssSampler(() => stack.live(), this.nowS);
      const { faults, streamedMs } = await this.stream(stack, clients, sampler);
      const drainedMs = await this.drainEchoes(clients);
      await sampler.stop();
      return this.report(stack, clients, faults, { streamedMs, drainedMs }, sampler, startedAt);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await stack.stop();
    }
  }

  private async openClients(stack: SoakStack, clients: SoakClient[]): Promise<void> {
    for (let i = 0; i < this.options.sessions; i++) clients.push(new SoakClient(i, stack.wsUrls, this.nowMs));
    await Promise.all(clients.map((c) => c.connect()));
    this.io.log(`${clients.length} sessions open, half on each gateway`);
  }

  /** Streams for the configured time while the faults happen on schedule. */
  private async stream(
    stack: SoakStack,
    clients: SoakClient[],
    sampler: RssSampler,
  ): Promise<{ faults: FaultRecord[]; streamedMs: number }> {
    this.t0 = performance.now();
    this.t0Wall = Date.now();
    for (const c of clients) {
      c.startStreaming();
      // Spread over one frame interval, so the sessions' frames do not all leave in the same millisecond.
      await sleep(FRAME_MS / clients.length);
    }
    sampler.start();
    const plan = planFaults(this.durationMs / 1000, this.options.killEveryS);
    this.io.log(
      `streaming ${this.durationMs / 1000} s; faults at ${plan.map((f) => `${f.atS} s ${f.kind}`).join(', ')}`,
    );
    const progress = setInterval(() => this.io.log(progressLine(this.nowS(), clients)), PROGRESS_EVERY_MS);
    const faults = this.runFaults(plan, new FaultInjector(stack, this.nowS));
    await sleep(Math.max(0, this.durationMs - this.nowMs()));
    for (const c of clients) c.stopStreaming();
    const streamedMs = this.nowMs();
    clearInterval(progress);
    return { faults: await faults, streamedMs };
  }

  private async runFaults(plan: PlannedFault[], injector: FaultInjector): Promise<FaultRecord[]> {
    const done: FaultRecord[] = [];
    for (const fault of plan) {
      await sleep(Math.max(0, fault.atS * 1000 - this.nowMs()));
      if (this.nowMs() >= this.durationMs) break;
      this.io.log(`t=${this.nowS().toFixed(1)} s: ${fault.kind}`);
      const record = await injector.run(fault);
      this.io.log(`  ${record.target}: ${record.error ? `ERROR ${record.error}` : record.detail}`);
      if (record.error) this.errors.push(`${record.name} at ${record.doneAtS} s: ${record.error}`);
      done.push(record);
    }
    return done;
  }

  /** Waits until every sent frame is echoed, or the drain time is up; resolves with when it stopped waiting. */
  private async drainEchoes(clients: SoakClient[]): Promise<number> {
    const deadline = performance.now() + DRAIN_MS;
    const missing = () => clients.reduce((t, c) => t + c.missing().length, 0);
    while (missing() > 0 && performance.now() < deadline) await sleep(250);
    this.io.log(`streaming stopped; ${missing()} frames not echoed after the drain`);
    return this.nowMs();
  }

  private report(
    stack: SoakStack,
    clients: SoakClient[],
    faultRecords: FaultRecord[],
    times: RunTimes,
    sampler: RssSampler,
    startedAt: Date,
  ): SoakReport {
    const sessions = clients.map((c) => sessionResult(c, times));
    const totals = totalsOf(sessions);
    const crashes = stack.crashes.map(({ at, ...c }) => ({
      ...c,
      atS: Math.round((at - this.t0Wall) / 100) / 10,
    }));
    const failures = failuresOf(totals, crashes.length, this.errors);
    const finished = new Date();
    const warmupS = Math.min(60, this.durationMs / 6000);
    return {
      schema: 'realtime-voice-bench-soak/1',
      startedAt: startedAt.toISOString(),
      finishedAt: finished.toISOString(),
      durationS: Math.round((finished.getTime() - startedAt.getTime()) / 100) / 10,
      command: this.io.command ?? 'runSoak',
      options: this.options,
      machine: machineInfo(),
      loadAvg: { start: this.loadStart, end: loadAverage1m() },
      stack: {
        gateways: stack.gateways.length,
        workers: stack.workers.length,
        redis: `private redis-server on port ${stack.redis.port}`,
        engine: 'local engine, echo mode',
      },
      streamedS: Math.round(times.streamedMs / 100) / 10,
      warmupS,
      passed: failures.length === 0,
      failures,
      totals,
      faults: faultResults(faultRecords, clients, times),
      sessions,
      rss: sampler.summaries(warmupS),
      crashes,
      errors: this.errors,
    };
  }
}

function progressLine(tS: number, clients: SoakClient[]): string {
  const sum = (f: (c: SoakClient) => number) => clients.reduce((t, c) => t + f(c), 0);
  return (
    `t=${tS.toFixed(0)} s: sent ${sum((c) => c.sent)}, echoed ${sum((c) => c.echoed)}, ` +
    `reconnects ${sum((c) => c.reconnects)}, ended ${sum((c) => c.ended.length)}`
  );
}

/** Runs one soak and returns what it measured (nothing is written). */
export function runSoak(options: SoakOptions, io: SoakIo): Promise<SoakReport> {
  return new SoakRun(options, io).run();
}

/** `2026-11-25T23-59-01Z`: sortable and safe in a file name. */
function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

/** Writes soak.json and soak.md into `dir`. */
export function writeSoakReport(report: SoakReport, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(dir, 'soak.md'), renderSoakSummary(report));
}

/** `npm run bench -- soak …`: runs, writes the reports, prints the verdict; exit code 1 unless it passed. */
export async function soakCommand(argv: string[]): Promise<number> {
  const log = (line: string) => process.stdout.write(`[soak] ${line}\n`);
  let options: SoakOptions | 'help';
  try {
    options = parseSoakOptions(argv);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(SOAK_HELP);
    return 0;
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every process of the soak`);
      killAllLaunched();
      process.exit(130);
    });
  }
  const dir = path.resolve(REPO_ROOT, options.out, `soak-${stamp(new Date())}`);
  const command = `npm run bench -- soak ${argv.join(' ')}`.trim();
  const report = await runSoak(options, { log, logDir: path.join(dir, 'logs'), command });
  writeSoakReport(report, dir);
  const t = report.totals;
  log(
    `${report.passed ? 'PASSED' : `FAILED: ${report.failures.join('; ')}`} — sent ${t.sent}, lost ${t.lost}, ` +
      `ended ${t.sessionsEnded}, hung ${t.sessionsHung}; longest pause per fault: ` +
      report.faults.map((f) => `${f.kind} ${f.longestPauseMs} ms`).join(', '),
  );
  log(`report: ${path.join(dir, 'soak.md')}`);
  return report.passed ? 0 : 1;
}
