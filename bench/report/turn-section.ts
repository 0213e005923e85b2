/** The turn scenario's section of `summary.md`, local and remote alike. */
import { fmt, row } from './format.js';
import type { TurnResult, TurnSide } from './types.js';

/** One turn side's row: per-turn figures, then the figure from connect (absent in older results). */
function turnRow(label: string, s: TurnSide): string {
  const fromConnect = s.firstAudioFromConnect;
  return row([
    label,
    `${s.turns} (${s.failures})`,
    `${fmt(s.firstDelta.medianMs)} / ${fmt(s.firstDelta.p90Ms)} ms`,
    `${fmt(s.firstAudio.medianMs)} / ${fmt(s.firstAudio.p90Ms)} ms`,
    fromConnect ? `${fmt(fromConnect.medianMs)} / ${fmt(fromConnect.p90Ms)} ms` : '—',
  ]);
}

const TURN_HEADER = [
  row([
    'target',
    'turns (failed)',
    'first text delta median / p90',
    'first audio median / p90',
    'first audio from connect median / p90',
  ]),
  row(Array(5).fill('---')),
];

export function turnSection(turn: TurnResult): string[] {
  const out = [
    '## turn: text turns against the speech engine',
    '',
    `"${turn.text}" on a fresh, configured session per turn (${turn.warmupTurns} warm-up turn per target not ` +
      `counted); targets alternate turn by turn. Per-turn figures run from sending the text; "from connect" ` +
      'from the start of the connect (upgrade, session set-up with the provider handshake, the configuration ' +
      `round trip, then the turn). Load average ${fmt(turn.loadAvg.start, 2)}→${fmt(turn.loadAvg.end, 2)}.`,
    '',
    ...TURN_HEADER,
  ];
  for (const s of turn.sides) out.push(turnRow(s.target, s));
  out.push('');
  if (turn.poolCompare) {
    const { handshakeMs, rows } = turn.poolCompare;
    out.push(
      `### provider pool off and on (\`--pool-compare\`, engine handshake ${handshakeMs} ms)`,
      '',
      'The stack on a fresh start each, against a speech engine that waits ' +
        `${handshakeMs} ms before \`session.created\`: the pool off (\`RTV_PROVIDER_POOL_SIZE=0\`), then at its ` +
        'default. A pool that hands a new session an already open provider connection saves that wait in the ' +
        'figure from connect; the per-turn figures should not move.',
      '',
      ...TURN_HEADER,
    );
    for (const r of rows) out.push(turnRow(`stack, pool ${r.pool}`, r.side));
    out.push('');
  }
  return out;
}
