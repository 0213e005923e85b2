/**
 * `summary.md`: the run at a glance (stack beside baseline, with ratios and the targets from the issue),
 * then one section per scenario. Every figure comes from results.json; nothing is computed that the JSON
 * does not hold except ratios and differences.
 */

import type { ProcessStat } from '../lib/proc-stats.js';
import { fmt, row } from './format.js';
import { renderRemoteSummary } from './remote-summary.js';
import { turnSection } from './turn-section.js';
import type { BenchResults, IdleResult, TargetKind, VoiceResult, VoiceStep } from './types.js';

/** The session count the "at N sessions" comparisons prefer (the issue's reference point). */
const REFERENCE_SESSIONS = 200;

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? '—'
    : `${(a / b).toFixed(2)}×`;
const diff = (a: number | null | undefined, b: number | null | undefined, unit: string) =>
  a == null || b == null ? '—' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(1)} ${unit}`;

/**
 * The step both targets ran at the reference size when both passed it, else the largest size both passed,
 * else the smallest size both ran (then marked as failed).
 */
function referenceSteps(voice: VoiceResult): { stack?: VoiceStep; baseline?: VoiceStep; label?: string } {
  const at = (kind: TargetKind, n: number) => voice.steps.find((s) => s.target === kind && s.sessions === n);
  const both = [...new Set(voice.steps.map((s) => s.sessions))]
    .filter((n) => at('stack', n) && at('baseline', n))
    .sort((a, b) => a - b);
  const passed = both.filter((n) => at('stack', n)!.passed && at('baseline', n)!.passed);
  const n = passed.includes(REFERENCE_SESSIONS) ? REFERENCE_SESSIONS : (passed.at(-1) ?? both[0]);
  if (n === undefined) return {};
  const label = passed.includes(n) ? `${n} sessions` : `${n} sessions (a failed step)`;
  return { stack: at('stack', n), baseline: at('baseline', n), label };
}

function glance(r: BenchResults): string[] {
  const out = [
    '## At a glance',
    '',
    row(['', 'stack', 'baseline', 'stack vs baseline', 'target']),
    row(['---', '---', '---', '---', '---']),
  ];
  const { voice, idle, turn } = r.scenarios;
  if (voice) {
    const cap = voice.capacity;
    const via = voice.route === 'openai' ? ', stack clients on /v1/realtime' : '';
    out.push(
      row([
        `voice capacity (sessions with p99 ≤ ${voice.thresholdMs} ms, 0 lost${via})`,
        fmt(cap.stack, 0),
        fmt(cap.baseline, 0),
        ratio(cap.stack, cap.baseline),
        '≥ 1.00×',
      ]),
    );
    const ref = referenceSteps(voice);
    if (ref.stack && ref.baseline) {
      const n = ref.label;
      out.push(
        row([
          `round trip p50 / p99 at ${n}${via}`,
          `${fmt(ref.stack.rtt.p50Ms, 2)} / ${fmt(ref.stack.rtt.p99Ms, 2)} ms`,
          `${fmt(ref.baseline.rtt.p50Ms, 2)} / ${fmt(ref.baseline.rtt.p99Ms, 2)} ms`,
          `${diff(ref.stack.rtt.p50Ms, ref.baseline.rtt.p50Ms, 'ms')} / ${diff(ref.stack.rtt.p99Ms, ref.baseline.rtt.p99Ms, 'ms')}`,
          'p50 within 2 ms, p99 within 5 ms',
        ]),
        row([
          `server CPU per echoed frame at ${n}${via}`,
          `${fmt(ref.stack.serverCpuPerFrameUs)} µs`,
          `${fmt(ref.baseline.serverCpuPerFrameUs)} µs`,
          ratio(ref.stack.serverCpuPerFrameUs, ref.baseline.serverCpuPerFrameUs),
          '≤ 1.30×',
        ]),
      );
    }
  }
  if (idle) {
    const side = (k: TargetKind) => idle.sides.find((s) => s.target === k);
    out.push(
      row([
        'memory held per idle connection (gateway / relay process)',
        `${fmt(side('stack')?.frontPerConnectionKB, 2)} KB`,
        `${fmt(side('baseline')?.frontPerConnectionKB, 2)} KB`,
        ratio(side('stack')?.frontPerConnectionKB, side('baseline')?.frontPerConnectionKB),
        '≤ 1.5 KB',
      ]),
    );
  }
  if (turn) {
    const side = (k: TargetKind) => turn.sides.find((s) => s.target === k);
    out.push(
      row([
        'time to first audio, median',
        `${fmt(side('stack')?.firstAudio.medianMs)} ms`,
        `${fmt(side('baseline')?.firstAudio.medianMs)} ms`,
        diff(side('stack')?.firstAudio.medianMs, side('baseline')?.firstAudio.medianMs, 'ms'),
        '≤ +5 ms',
      ]),
    );
  }
  out.push('');
  return out;
}

/** The step's side, with the route when it is not the seed protocol. */
function targetLabel(s: VoiceStep): string {
  return s.route === 'openai' ? `${s.target} (/v1/realtime)` : s.target;
}

function voiceSection(v: VoiceResult): string[] {
  const out = [
    '## voice: real-time audio echoed by the provider',
    '',
    `Each session sends 20 ms of 24 kHz PCM16 every 20 ms; ${v.warmupS} s warm-up, ${v.durationS} s measured, ` +
      `echoes may trail by ${v.drainS} s. A step fails when p99 > ${v.thresholdMs} ms or any frame is lost. ` +
      'Server CPU is gateway + worker + Redis for the stack, the relay for the baseline; the engine (provider) ' +
      'and the load generators are listed apart.' +
      (v.generatorWarmup
        ? ` Before the first step the load generators streamed ${v.generatorWarmup.opened} sessions straight at the ` +
          `engine for ${v.generatorWarmup.seconds} s, so neither side pays for their cold start.`
        : '') +
      (v.route === 'openai'
        ? " The stack's clients speak OpenAI Realtime GA events on `/v1/realtime` (`input_audio_buffer.append` " +
          "in, `response.output_audio.delta` back, `--route openai`); the baseline relay's the seed protocol."
        : '') +
      (v.redis === 'cluster'
        ? ' The stack runs on a 3-master Redis Cluster without replicas started for the run (`--redis cluster`); ' +
          'its Redis CPU is the three masters together.'
        : ''),
    '',
    row([
      'sessions',
      'target',
      'frames/s achieved / offered',
      'p50',
      'p90',
      'p99',
      'max',
      'lost',
      'server CPU µs/frame',
      'provider CPU s',
      'load gen CPU s (busiest %)',
      'load avg',
      'result',
    ]),
    row(Array(13).fill('---')),
  ];
  for (const s of v.steps) {
    out.push(
      row([
        s.sessions,
        targetLabel(s),
        `${s.achievedFps} / ${s.offeredFps}`,
        fmt(s.rtt.p50Ms, 2),
        fmt(s.rtt.p90Ms, 2),
        fmt(s.rtt.p99Ms, 2),
        fmt(s.rtt.maxMs, 1),
        s.lost,
        fmt(s.serverCpuPerFrameUs),
        fmt(s.providerCpuS, 2),
        `${fmt(s.loadgenCpuS, 2)} (${fmt(s.loadgenMaxCpuPercent, 0)} %)`,
        `${fmt(s.loadAvg.start, 2)}→${fmt(s.loadAvg.end, 2)}`,
        s.passed ? 'pass' : `fail: ${s.failReason}`,
      ]),
    );
  }
  out.push(
    '',
    'Per process: CPU in % of one core over the window, the time its main thread waited for a CPU (runnable, ' +
      'not running: the run-queue wait) in % of the window, CPU and main-thread wake-ups (voluntary context ' +
      'switches) per echoed frame and peak RSS (the load generators ' +
      'together, CPU per frame only); for the servers also GC time in the window and the longest event-loop ' +
      'delay; for the stack, Redis commands per echoed frame (whole server).',
    '',
  );
  out.push(
    row(['sessions', 'target', 'processes', 'GC s / max event-loop delay', 'Redis commands per frame']),
    row(Array(5).fill('---')),
  );
  for (const s of v.steps) {
    const perFrame = (name: string) => {
      const us = s.cpuPerFrameUs?.[name];
      if (us === undefined) return '';
      const wakeups = s.wakeupsPerFrame?.[name];
      return wakeups === undefined
        ? ` (${fmt(us)} µs/frame)`
        : ` (${fmt(us)} µs, ${fmt(wakeups, 2)} wake-ups/frame)`;
    };
    const waited = (p: ProcessStat) =>
      p.cpuWaitPercent === null || p.cpuWaitPercent === undefined
        ? ''
        : `, waited ${fmt(p.cpuWaitPercent, 0)} %`;
    const procs = s.processes
      .filter((p) => p.role !== 'loadgen')
      .map(
        (p) =>
          `${p.name} ${fmt(p.cpuPercent, 0)} %${waited(p)}${perFrame(p.name)} / ${fmt(p.rssPeakMB, 0)} MB`,
      );
    if (s.cpuPerFrameUs && s.received > 0) {
      procs.push(`load generators ${fmt((s.loadgenCpuS / s.received) * 1e6)} µs/frame`);
    }
    const runtime = (s.runtime ?? [])
      .map((r) => `${r.name} ${fmt(r.gcTotalS, 2)} s / ${fmt(r.loopLagMaxMs, 0)} ms`)
      .join(', ');
    const redis = s.redisCommandsPerFrame
      ? Object.entries(s.redisCommandsPerFrame)
          .map(([cmd, n]) => `${cmd} ${fmt(n, 3)}`)
          .join(', ')
      : '—';
    out.push(row([s.sessions, targetLabel(s), procs.join(', '), runtime || '—', redis]));
  }
  out.push(...busLegsTable(v));
  out.push(...redisNodesTable(v));
  out.push('', '![round-trip p99 vs sessions](p99-vs-sessions.svg)', '');
  return out;
}

/**
 * The stack's two legs through Redis in each step's window, from the services' own frame-path histograms, beside
 * the round trip the clients measured: what of the round trip the bus takes, and in which direction.
 */
function busLegsTable(v: VoiceResult): string[] {
  const steps = v.steps.filter((s) => (s.runtime ?? []).some((r) => r.busLeg));
  if (steps.length === 0) return [];
  const out = [
    '',
    'The frame path through Redis, per leg, over the window: the worker times gateway → worker (from the ' +
      "stream entry's time, Redis's clock when the gateway's `XADD` ran, to the frame applied), the gateway " +
      "worker → gateway (from the worker's entry to the client send), in their " +
      '`rtv_*_frame_path_duration_seconds` histograms; neither counts the time a line waits in its writer before ' +
      "the `XADD` (the flush interval). p50 / p90 / p99 and mean in ms, at the entry ids' millisecond " +
      "resolution; quantiles are interpolated within the histogram's buckets, as `histogram_quantile` does.",
    '',
    row(['sessions', 'target', 'gateway → worker', 'worker → gateway', 'round trip (clients)']),
    row(Array(5).fill('---')),
  ];
  const leg = (s: VoiceStep, name: string) => {
    const l = (s.runtime ?? []).find((r) => r.busLeg?.leg === name)?.busLeg;
    return l ? `${fmt(l.p50Ms, 2)} / ${fmt(l.p90Ms, 2)} / ${fmt(l.p99Ms, 2)}, mean ${fmt(l.meanMs, 2)}` : '—';
  };
  for (const s of steps) {
    out.push(
      row([
        s.sessions,
        targetLabel(s),
        leg(s, 'gateway → worker'),
        leg(s, 'worker → gateway'),
        `${fmt(s.rtt.p50Ms, 2)} / ${fmt(s.rtt.p90Ms, 2)} / ${fmt(s.rtt.p99Ms, 2)}`,
      ]),
    );
  }
  return out;
}

/**
 * Per Redis server of the stack's steps (each master with `--redis cluster`): commands, network bytes and CPU
 * per voice-second, i.e. per session streaming for one second (50 echoed frames).
 */
function redisNodesTable(v: VoiceResult): string[] {
  const steps = v.steps.filter((s) => s.redisNodes && s.redisNodes.length > 0);
  if (steps.length === 0) return [];
  const out = [
    '',
    'Per Redis server, per voice-second (one session streaming for one second: 50 echoed frames): commands ' +
      '(INFO commandstats), bytes in and out (INFO stats `total_net_input_bytes`, `total_net_output_bytes`) and ' +
      'the redis-server process CPU over the window; commands per frame by command after them.',
    '',
    row(['sessions', 'Redis', 'commands', 'bytes in', 'bytes out', 'CPU µs', 'commands per frame']),
    row(Array(7).fill('---')),
  ];
  for (const s of steps) {
    for (const n of s.redisNodes!) {
      const perFrame = Object.entries(n.commandsPerFrame)
        .map(([cmd, c]) => `${cmd} ${fmt(c, 3)}`)
        .join(', ');
      const name = n.port === null ? n.name : `${n.name} (:${n.port})`;
      out.push(
        row([
          s.sessions,
          name,
          fmt(n.commandsPerVoiceSecond, 2),
          fmt(n.netInBytesPerVoiceSecond, 0),
          fmt(n.netOutBytesPerVoiceSecond, 0),
          fmt(n.cpuUsPerVoiceSecond),
          perFrame,
        ]),
      );
    }
  }
  return out;
}

function idleSection(idle: IdleResult): string[] {
  const out = [
    '## idle: connections that send nothing',
    '',
    'Connections open in two halves; after each, once every session is set up (for the stack: bound to the ' +
      `worker with its provider socket open) or set-up stalls, and ${idle.settleS} s of settling, RSS is read. ` +
      'Each reading follows a forced full GC (inspector). "RSS" is the second half\'s RSS growth per connection ' +
      '(per session for the worker), with the average from the start in brackets; "JS" is the same slope of ' +
      'live V8 heap + external memory, which leaves out native memory such as uWS\'s own; "held" (the headline ' +
      'figure) is the slope of RSS minus the heap V8 has committed but holds nothing in, so it counts native ' +
      "memory but not the slack of V8's heap sizing (its young generation alone can grow by tens of MB in a burst).",
    '',
    row([
      'target',
      'clients open',
      'provider sockets',
      'set-up rate',
      'memory per connection',
      'RSS start → half → end',
      'notes',
    ]),
    row(Array(7).fill('---')),
  ];
  for (const s of idle.sides) {
    const notes = [
      s.capNote,
      s.failed ? `${s.failed} failed to open (${s.firstError ?? 'no reason'})` : undefined,
      s.closedEarly
        ? `${s.closedEarly} closed by the server${s.closeReasons ? ` (${describeCloses(s.closeReasons)})` : ''}`
        : undefined,
      s.upstream < s.clientsOpen ? `${s.clientsOpen - s.upstream} never got a provider socket` : undefined,
    ]
      .filter(Boolean)
      .join('; ');
    out.push(
      row([
        s.target,
        s.clientsOpen,
        s.upstream,
        `${s.setupPerS}/s`,
        s.processes
          .map(
            (p) =>
              `${p.name} held ${fmt(p.heldPerConnectionKB, 2)} KB, RSS ${fmt(p.perConnectionKB, 2)} KB (${fmt(p.averagePerConnectionKB, 2)}), JS ${fmt(p.jsPerConnectionKB, 2)} KB`,
          )
          .join('; '),
        s.processes
          .map((p) => `${p.name} ${fmt(p.rssBeforeMB)} → ${fmt(p.rssHalfMB)} → ${fmt(p.rssAfterMB)} MB`)
          .join(', '),
        notes || '—',
      ]),
    );
  }
  out.push('');
  return out;
}

export function renderSummary(r: BenchResults): string {
  if (r.target?.kind === 'remote') return renderRemoteSummary(r);
  const m = r.machine;
  const out = [
    `# Benchmark ${r.startedAt.replace(/\.\d+Z$/, 'Z')}`,
    '',
    `- Machine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGB} GB, Node ${m.node}, ${m.kernel}, ` +
      `${m.openFilesLimit ?? '?'} open files per process`,
    `- Load average (1 min): ${fmt(r.loadAvg.start, 2)} at start, ${fmt(r.loadAvg.end, 2)} at end; ` +
      'the services, the engine, Redis and the load generators share the same cores',
    `- Redis ${r.redis?.version ?? 'unknown'} (${r.redis?.note ?? 'not recorded'})`,
    `- \`${r.command}\`, ${r.loadGenerators} load-generator processes, ${fmt(r.durationS, 0)} s`,
    '',
    ...glance(r),
  ];
  if (r.scenarios.voice) out.push(...voiceSection(r.scenarios.voice));
  if (r.scenarios.idle) out.push(...idleSection(r.scenarios.idle));
  if (r.scenarios.turn) out.push(...turnSection(r.scenarios.turn));
  if (r.errors.length > 0) {
    out.push('## Scenarios that did not finish', '');
    for (const e of r.errors) out.push(`- ${e.scenario}: ${e.message.split('\n')[0]}`);
    out.push('');
  }
  return out.join('\n');
}

/** `close 1013 replay buffer full ×12, close 1006 ×3`: commonest first. */
function describeCloses(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([why, n]) => `${why} ×${n}`)
    .join(', ');
}
