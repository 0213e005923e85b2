/** soak.md: the verdict first, then each fault's pause, the sessions, and memory over the run. */
import { HUNG_AFTER_MS, type LostRun, PAUSED_OVER_MS, type SoakReport } from './soak-report.js';

function table(head: string[], rows: Array<Array<string | number>>): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function verdict(r: SoakReport): string[] {
  const t = r.totals;
  const lines = [
    `**${r.passed ? 'PASSED' : 'FAILED'}**${r.passed ? '' : `: ${r.failures.join('; ')}`}`,
    '',
    ...table(
      ['', 'measured', 'target'],
      [
        ['frames sent / echoed', `${t.sent} / ${t.echoed}`, '—'],
        ['frames lost (sent, never echoed)', t.lost, 0],
        ['sessions ended (could not be continued)', t.sessionsEnded, 0],
        [`sessions hung (no echo for > ${HUNG_AFTER_MS / 1000} s while streaming)`, t.sessionsHung, 0],
        ['echoes at the wrong session', t.misrouted, 0],
        ['echoes of new frames dropped for an old seq (counted in lost)', t.staleSeqNewFrames, 0],
        ['frames echoed again (replayed to a new provider session)', t.repeated, '—'],
        ['frames not sent (client reconnecting; dropped as the SDK drops them)', t.notSent, '—'],
        ['reconnects', t.reconnects, '—'],
      ],
    ),
  ];
  return lines;
}

function faults(r: SoakReport): string[] {
  return [
    '## Faults and the pauses they caused',
    '',
    `The pause of a session is its longest gap between echoes of new frames that began after the fault and before the next one (at most 60 s later); a session counts as paused above ${PAUSED_OVER_MS / 1000} s.`,
    '',
    ...table(
      ['at (s)', 'fault', 'target', 'sessions paused', 'longest pause (ms)', 'what happened'],
      r.faults.map((f) => [
        f.doneAtS,
        f.name,
        f.target || '—',
        `${f.sessionsPaused} of ${r.totals.sessions}`,
        f.longestPauseMs,
        f.error ? `ERROR: ${f.error}` : f.detail,
      ]),
    ),
  ];
}

/** `15.0–21.9, 45.1–48.3`: when the lost frames were sent, the first five runs. */
function lostAt(runs: LostRun[]): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const shown = runs
    .slice(0, 5)
    .map((r) => (r.from === r.to ? s(r.sentFromMs) : `${s(r.sentFromMs)}–${s(r.sentToMs)}`));
  return shown.length === 0 ? '—' : `${shown.join(', ')}${runs.length > 5 ? ', …' : ''}`;
}

function sessions(r: SoakReport): string[] {
  const codes = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, v]) => `${k}×${v}`)
      .join(', ') || '—';
  return [
    '## Sessions',
    '',
    ...table(
      [
        '#',
        'sent',
        'lost',
        'again',
        'not sent',
        'reconnects',
        'resumes',
        'longest gap (ms)',
        'ended',
        'errors',
        'notices',
      ],
      r.sessions.map((s) => [
        s.index,
        s.sent,
        s.lost,
        lostAt(s.lostRuns),
        s.repeated,
        s.notSent,
        s.reconnects,
        s.resumes,
        s.longestGapMs,
        s.ended.map((e) => `${Math.round(e.atMs / 1000)} s: ${e.detail}`).join('; ') || '—',
        codes(s.errors),
        codes(s.notices),
      ]),
    ),
  ];
}

function memory(r: SoakReport): string[] {
  return [
    '## Memory (RSS, sampled every 10 s)',
    '',
    `Per process (a restarted service is a new process). "After warm-up" is the first sample ${r.warmupS} s after the run or the process started; the slope is a least-squares fit over the samples from there. A worker's memory follows the sessions it holds, which move at every kill: read its slope beside them. The last sample is taken once streaming has stopped and the last echoes were waited for (the sessions still open, idle).`,
    '',
    ...table(
      [
        'process',
        'pid',
        'sampled (s)',
        'after warm-up (MB)',
        'end (MB)',
        'slope (MB/min)',
        'over (s)',
        'holding then → at the end',
      ],
      r.rss.map((p) => [
        p.tag,
        p.pid,
        `${p.samples[0]![0]}–${p.samples.at(-1)![0]}`,
        p.warmMB ?? '—',
        p.endMB,
        p.slopeMBPerMin ?? '—',
        p.slopeOverS,
        p.endLoad === null
          ? '—'
          : `${p.warmLoad ?? '—'} → ${p.endLoad} ${p.kind === 'gateway' ? 'connections' : 'sessions'}`,
      ]),
    ),
  ];
}

function crashes(r: SoakReport): string[] {
  if (r.crashes.length === 0) return [];
  return [
    '## Services that exited on their own',
    '',
    'Each was started again, as `npm start` would; its last output is in `logs/<service>-<start>.log`.',
    '',
    ...table(
      ['at (s)', 'process', 'pid', 'exit', 'restart'],
      r.crashes.map((c) => [c.atS, c.tag, c.pid, String(c.how), c.restartError ?? 'ok']),
    ),
    '',
  ];
}

export function renderSoakSummary(r: SoakReport): string {
  const o = r.options;
  return [
    `# Soak ${r.startedAt}`,
    '',
    `\`${r.command}\`: ${r.totals.sessions} sessions streaming 20 ms frames in real time for ${r.streamedS} s over ${r.stack.gateways} gateways and ${r.stack.workers} session workers; a worker SIGKILLed every ${o.killEveryS} s (shorter runs: once), one gateway drained, Redis restarted once (${o.redisPersistence ? 'with its data' : 'empty'}). ${r.machine.nproc} CPUs, load average ${r.loadAvg.start} at start, ${r.loadAvg.end} at end.`,
    '',
    ...verdict(r),
    '',
    ...faults(r),
    '',
    ...sessions(r),
    '',
    ...memory(r),
    '',
    ...crashes(r),
    ...(r.errors.length > 0 ? ['## Harness errors', '', ...r.errors.map((e) => `- ${e}`), ''] : []),
  ].join('\n');
}
