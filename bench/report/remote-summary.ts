/**
 * `summary.md` of a remote run (`--url`): what the clients saw of a deployed cluster. There is no baseline and
 * no server-side CPU (the servers are not on this machine); the load generators' own CPU is shown so a
 * saturated generator can be told from a slow cluster.
 */
import { fmt, row } from './format.js';
import { turnSection } from './turn-section.js';
import type { BenchResults, RemoteIdleResult, RemoteTarget, VoiceResult } from './types.js';

const counts = (c: Record<string, number> | undefined) =>
  c && Object.keys(c).length > 0
    ? Object.entries(c)
        .sort((a, b) => b[1] - a[1])
        .map(([reason, n]) => `${reason} ×${n}`)
        .join(', ')
    : '—';

function voiceSection(v: VoiceResult): string[] {
  const out = [
    '## voice: real-time audio echoed by the deployment',
    '',
    `Each session sends 20 ms of 24 kHz PCM16 every 20 ms; ${v.warmupS} s warm-up, ${v.durationS} s measured, ` +
      `echoes may trail by ${v.drainS} s. A step fails when a session cannot be opened, a frame is lost, the ` +
      `server closes a session, or p99 > ${v.thresholdMs} ms; steps stop at the first failure. The round trip ` +
      "is measured in the sending process's clock and needs workers whose engine echoes (`RTV_ENGINE_MODE=echo`).",
    '',
    row([
      'sessions',
      'opened',
      'connect ramp',
      'frames/s achieved / offered',
      'p50',
      'p90',
      'p99',
      'max',
      'lost',
      'refused connects',
      'closed by the server',
      'server CPU',
      'load gen CPU s (busiest %)',
      'send lag p99',
      'result',
    ]),
    row(Array(15).fill('---')),
  ];
  for (const s of v.steps) {
    out.push(
      row([
        s.sessions,
        s.opened,
        `${fmt(s.rampS)} s`,
        `${s.achievedFps} / ${s.offeredFps}`,
        fmt(s.rtt.p50Ms, 2),
        fmt(s.rtt.p90Ms, 2),
        fmt(s.rtt.p99Ms, 2),
        fmt(s.rtt.maxMs, 1),
        s.lost,
        counts(s.connectFailures),
        counts(s.closeReasons),
        'unknown (remote)',
        `${fmt(s.loadgenCpuS, 2)} (${fmt(s.loadgenMaxCpuPercent, 0)} %)`,
        `${fmt(s.sendLagP99Ms, 2)} ms`,
        s.passed ? 'pass' : `fail: ${s.failReason}`,
      ]),
    );
  }
  out.push(
    '',
    'A generator near 100 % of a core, or a send lag of more than a few ms, means this machine could not keep ' +
      'the real-time schedule: add `--procs` or another machine before blaming the cluster.',
    '',
    '![round-trip p99 vs sessions](p99-vs-sessions.svg)',
    '',
  );
  return out;
}

function idleSection(idle: RemoteIdleResult): string[] {
  return [
    '## idle: connections that send nothing',
    '',
    `Opened over ${fmt(idle.rampS)} s, each proven alive by one round trip, then held ${fmt(idle.heldS)} s ` +
      "without traffic. The servers' memory is not known from here: read it from the cluster's metrics.",
    '',
    row(['requested', 'opened', 'refused connects', 'still open at the end', 'closed by the server']),
    row(Array(5).fill('---')),
    row([
      idle.requested,
      idle.opened,
      counts(idle.connectFailures),
      idle.stillOpen,
      idle.closedEarly > 0 ? counts(idle.closeReasons) : '0',
    ]),
    '',
  ];
}

/** Which credentials the sessions presented, or that the anonymous route took none. */
function credentialText(t: RemoteTarget): string {
  if (t.credentialSource === 'anonymous') {
    return `the anonymous route, no credential, each session its own user (\`${t.anonymousUser}-bench_<n>\` and the like)`;
  }
  const from = t.credentialSource === 'env' ? 'RTV_BENCH_TOKEN' : `--${t.credentialSource}`;
  return `${t.credentials} credential${t.credentials === 1 ? '' : 's'} from ${from}`;
}

export function renderRemoteSummary(r: BenchResults): string {
  const m = r.machine;
  const t = r.target!;
  const out = [
    `# Benchmark ${r.startedAt.replace(/\.\d+Z$/, 'Z')} against ${t.url}`,
    '',
    `- Target: a deployed gateway (remote mode), ${t.route === 'openai' ? 'OpenAI Realtime GA events on `/v1/realtime`' : 'the seed protocol'}; ` +
      credentialText(t) +
      `${t.privateCa ? ', a private CA (--ca-file)' : ''}. No local service and no baseline were started.`,
    '- Server-side CPU: unknown in remote mode (the servers are not on this machine); read it from the ' +
      "cluster's metrics. The load generators' CPU is below.",
    `- Load generators: ${r.loadGenerators} processes on ${m.nproc} × ${m.cpuModel}, ${m.memoryGB} GB, Node ${m.node}; ` +
      `load average ${fmt(r.loadAvg.start, 2)} at start, ${fmt(r.loadAvg.end, 2)} at end`,
    `- \`${r.command}\`, ${fmt(r.durationS, 0)} s`,
    '',
  ];
  const { voice, idleRemote, turn } = r.scenarios;
  if (voice) out.push(...voiceSection(voice));
  if (idleRemote) out.push(...idleSection(idleRemote));
  if (turn) out.push(...turnSection(turn));
  if (r.errors.length > 0) {
    out.push('## Scenarios that did not finish', '');
    for (const e of r.errors) out.push(`- ${e.scenario}: ${e.message.split('\n')[0]}`);
    out.push('');
  }
  return out.join('\n');
}
