/**
 * What a soak measured (soak.json, schema `realtime-voice-bench-soak/1`), computed from the clients' records
 * after the run: frames lost, sessions that ended or hung, the pause each fault caused, memory over time.
 */
import { type ClientEvent, type EchoGap, GAP_RECORD_MS, type SoakClient } from '../load/soak-client.js';
import type { LoadAvg } from '../report/types.js';
import type { MachineInfo } from './proc-stats.js';
import type { RssSummary } from './rss-sampler.js';
import type { FaultRecord } from './soak-faults.js';
import type { SoakOptions } from './soak-options.js';

/** A session without a new echo for longer than this while it streams has hung. */
export const HUNG_AFTER_MS = 15_000;
/** A fault paused a session when its longest gap in the fault's window is longer than this. */
export const PAUSED_OVER_MS = 1000;
/** A fault's window: until the next fault, at most this long. */
const FAULT_WINDOW_S = 60;

export interface SessionResult {
  index: number;
  user: string;
  sessionIds: string[];
  sent: number;
  echoed: number;
  lost: number;
  repeated: number;
  misrouted: number;
  /** Echoes of new frames dropped because their `seq` was not above the last one received. */
  staleSeqNewFrames: number;
  notSent: number;
  reconnects: number;
  resumes: number;
  longestGapMs: number;
  hung: boolean;
  ended: ClientEvent[];
  errors: Record<string, number>;
  notices: Record<string, number>;
  /** The frames never echoed, as runs of consecutive frame numbers with their send times (at most 50 runs). */
  lostRuns: LostRun[];
}

/** Consecutive frames never echoed: numbers `from`…`to`, sent from `sentFromMs` to `sentToMs` (soak clock). */
export interface LostRun {
  from: number;
  to: number;
  sentFromMs: number;
  sentToMs: number;
}

/** Groups missing frames (ascending) into runs of consecutive numbers. */
export function lostRuns(missing: Array<{ frame: number; sentAtMs: number }>, limit = 50): LostRun[] {
  const runs: LostRun[] = [];
  for (const m of missing) {
    const last = runs.at(-1);
    if (last && last.to === m.frame - 1) {
      last.to = m.frame;
      last.sentToMs = m.sentAtMs;
    } else if (runs.length < limit) {
      runs.push({ from: m.frame, to: m.frame, sentFromMs: m.sentAtMs, sentToMs: m.sentAtMs });
    } else {
      break;
    }
  }
  return runs;
}

export interface FaultResult extends FaultRecord {
  /** Seconds after the fault in which a gap must begin to count toward its pause (until the next fault). */
  windowS: number;
  /** Sessions whose longest gap in the window exceeds {@link PAUSED_OVER_MS}. */
  sessionsPaused: number;
  /** The longest gap between new echoes in the window, over every session. */
  longestPauseMs: number;
  /** Per session (by index): its longest gap in the window, ms (0: none over 100 ms). */
  pausePerSessionMs: number[];
}

export interface SoakReport {
  schema: 'realtime-voice-bench-soak/1';
  startedAt: string;
  finishedAt: string;
  durationS: number;
  command: string;
  options: SoakOptions;
  machine: MachineInfo;
  loadAvg: LoadAvg;
  stack: { gateways: number; workers: number; redis: string; engine: string };
  /** Streaming time actually run, and the warm-up the memory figures start after. */
  streamedS: number;
  warmupS: number;
  passed: boolean;
  /** Why it failed, one line each (empty when it passed). */
  failures: string[];
  totals: {
    sessions: number;
    sent: number;
    echoed: number;
    lost: number;
    repeated: number;
    misrouted: number;
    staleSeqNewFrames: number;
    notSent: number;
    sessionsEnded: number;
    sessionsHung: number;
    reconnects: number;
  };
  faults: FaultResult[];
  sessions: SessionResult[];
  rss: RssSummary[];
  /** Gateways and workers that exited without being told to (restarted, as `npm start` would). */
  crashes: Array<{
    tag: string;
    pid: number;
    how: number | string | null;
    atS: number;
    restartError?: string;
  }>;
  /** Problems of the harness itself (a fault that could not be done, a service that did not come back). */
  errors: string[];
}

function tally(events: ClientEvent[], kind: ClientEvent['kind']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) if (e.kind === kind) out[e.detail] = (out[e.detail] ?? 0) + 1;
  return out;
}

/** What the pause and hang figures are computed from: a {@link SoakClient}, or a plain record in tests. */
export type EchoTimeline = Pick<SoakClient, 'gaps' | 'lastProgressMs' | 'missing'>;

/** When streaming stopped, and when the wait for the last echoes ended (ms on the soak clock). */
export interface RunTimes {
  streamedMs: number;
  drainedMs: number;
}

/**
 * The session's gaps that began while it streamed, plus the open one since its last echo: until the end of
 * the wait for the last echoes when a frame sent after that echo never came back (the session went silent for
 * good), else until streaming stopped.
 */
function gapsOf(client: EchoTimeline, times: RunTimes): EchoGap[] {
  const last = client.lastProgressMs ?? 0;
  const lastMissingSentAt = client.missing().at(-1)?.sentAtMs ?? Number.NEGATIVE_INFINITY;
  const end = lastMissingSentAt > last ? times.drainedMs : times.streamedMs;
  const open = end - last > GAP_RECORD_MS ? [{ startMs: last, endMs: end }] : [];
  return [...client.gaps.filter((g) => g.startMs < times.streamedMs), ...open];
}

/** The longest time `client` went without a new echo while it streamed (ms). */
export function longestGapMs(client: EchoTimeline, times: RunTimes): number {
  return Math.round(Math.max(0, ...gapsOf(client, times).map((g) => g.endMs - g.startMs)));
}

export function sessionResult(client: SoakClient, times: RunTimes): SessionResult {
  const missing = client.missing();
  const longest = longestGapMs(client, times);
  return {
    index: client.index,
    user: client.userId,
    sessionIds: client.sessionIds,
    sent: client.sent,
    echoed: client.echoed,
    lost: missing.length,
    repeated: client.repeated,
    misrouted: client.misrouted,
    staleSeqNewFrames: client.staleSeqNewFrames,
    notSent: client.notSent,
    reconnects: client.reconnects,
    resumes: client.events.filter((e) => e.kind === 'resumed').length,
    longestGapMs: longest,
    hung: longest > HUNG_AFTER_MS,
    ended: client.ended,
    errors: tally(client.events, 'error'),
    notices: tally(client.events, 'notice'),
    lostRuns: lostRuns(missing),
  };
}

/**
 * The fault a gap belongs to: the last one done before the gap started. A gap starts at the last echo before
 * the fault took effect, which may be a frame or two before the fault itself: hence the slack.
 */
function faultOfGap(gap: EchoGap, faults: FaultRecord[]): number {
  const slackMs = 500;
  let found = -1;
  faults.forEach((f, i) => {
    if (f.doneAtS * 1000 <= gap.startMs + slackMs) found = i;
  });
  return found;
}

/** Each fault with, per session, the longest gap that began in its window (until the next fault, ≤ 60 s). */
export function faultResults(faults: FaultRecord[], clients: EchoTimeline[], times: RunTimes): FaultResult[] {
  return faults.map((f, i) => {
    const next = faults[i + 1]?.doneAtS ?? times.streamedMs / 1000;
    const windowS = Math.min(FAULT_WINDOW_S, Math.max(0, next - f.doneAtS));
    const perSession = clients.map((c) => {
      const hits = gapsOf(c, times).filter(
        (g) => faultOfGap(g, faults) === i && g.startMs <= (f.doneAtS + windowS) * 1000,
      );
      return Math.round(Math.max(0, ...hits.map((g) => g.endMs - g.startMs)));
    });
    return {
      ...f,
      windowS: Math.round(windowS * 10) / 10,
      sessionsPaused: perSession.filter((p) => p > PAUSED_OVER_MS).length,
      longestPauseMs: Math.max(0, ...perSession),
      pausePerSessionMs: perSession,
    };
  });
}

export function totalsOf(sessions: SessionResult[]): SoakReport['totals'] {
  const sum = (f: (s: SessionResult) => number) => sessions.reduce((t, s) => t + f(s), 0);
  return {
    sessions: sessions.length,
    sent: sum((s) => s.sent),
    echoed: sum((s) => s.echoed),
    lost: sum((s) => s.lost),
    repeated: sum((s) => s.repeated),
    misrouted: sum((s) => s.misrouted),
    staleSeqNewFrames: sum((s) => s.staleSeqNewFrames),
    notSent: sum((s) => s.notSent),
    sessionsEnded: sessions.filter((s) => s.ended.length > 0).length,
    sessionsHung: sessions.filter((s) => s.hung).length,
    reconnects: sum((s) => s.reconnects),
  };
}

/**
 * The verdict: a soak is a check. Lost or misrouted frames, ended or hung sessions, a service that crashed,
 * a fault that could not be done.
 */
export function failuresOf(totals: SoakReport['totals'], crashes: number, errors: string[]): string[] {
  const out: string[] = [];
  if (crashes > 0) out.push(`${crashes} service processes exited on their own`);
  if (totals.lost > 0) out.push(`${totals.lost} frames sent but never echoed`);
  if (totals.misrouted > 0) out.push(`${totals.misrouted} echoes delivered to the wrong session`);
  if (totals.sessionsEnded > 0) out.push(`${totals.sessionsEnded} sessions ended (could not be continued)`);
  if (totals.sessionsHung > 0)
    out.push(`${totals.sessionsHung} sessions hung (no echo for over ${HUNG_AFTER_MS / 1000} s)`);
  if (totals.sent === 0) out.push('no frame was sent');
  return [...out, ...errors];
}
