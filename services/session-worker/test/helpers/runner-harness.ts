import { createKeys, type HistoryItem, MemoryBusWriter, type SessionState } from '@rtv/bus';
import { type BusLine, DEFAULT_SESSION_CONFIG, FrameKind, type SessionConfig } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import type { Registry } from 'prom-client';
import { createWorkerMetrics } from '../../src/metrics.js';
import { SessionRunner, type SessionRunnerDeps } from '../../src/sessions/session-runner.js';
import { freshRegistry, silentLogger } from './fake-provider.js';

export const keys = createKeys('t');
export const gw1 = keys.gatewayOut('gw-1');

export interface Harness {
  runner: SessionRunner;
  writer: MemoryBusWriter;
  registry: Registry;
  /** What `appendHistory` stored, in order (the same array `loadHistory` reads). */
  history: HistoryItem[];
  savedConfigs: SessionConfig[];
  /** Applies a JSON client frame with the next seq. */
  send(msg: Record<string, unknown>): void;
  /** The public messages sent to gw-1 so far, parsed. */
  messages(): Array<Record<string, unknown>>;
  /** Resolves with the messages once one satisfies `pred`. */
  waitForMessage(
    pred: (m: Record<string, unknown>) => boolean,
    message?: string,
  ): Promise<Array<Record<string, unknown>>>;
}

/**
 * A `SessionRunner` against a provider URL with in-memory history and config (or the given deps), writing to a
 * `MemoryBusWriter`. `history` is shared: a second harness given the same array restores the same history.
 */
export function runnerHarness(
  url: string,
  opts: {
    state?: Partial<SessionState>;
    deps?: Partial<SessionRunnerDeps>;
    history?: HistoryItem[];
    shape?: 'ga' | 'beta';
  } = {},
): Harness {
  const registry = freshRegistry();
  const metrics = createWorkerMetrics(registry);
  const writer = new MemoryBusWriter();
  const history = opts.history ?? [];
  const savedConfigs: SessionConfig[] = [];
  const runner = new SessionRunner(
    {
      sid: 'sess_unit_2',
      userId: 'user_1',
      gatewayId: 'gw-1',
      epoch: 1,
      config: { ...DEFAULT_SESSION_CONFIG },
      lastSeq: 0,
      clientAttached: true,
      createdMs: 0,
      ...opts.state,
    },
    {
      keys,
      writer,
      log: silentLogger(),
      metrics,
      workerId: 'wk-1',
      provider: { url, model: 'gpt-realtime', shape: opts.shape ?? 'ga', maxAttempts: 2, backoffMs: 1 },
      appendHistory: async (_sid, item) => {
        history.push(item);
      },
      loadHistory: async () => [...history],
      saveConfig: (_sid, config) => savedConfigs.push(config),
      resumeGraceMs: 30_000,
      maxSessionMs: 0,
      resumeBufferBytes: 256 * 1024,
      audioFramesToProvider: metrics.framesToProvider.labels('audio'),
      audioDeltaEvents: metrics.upstreamEvents.labels({ type: 'response.output_audio.delta' }),
      ...opts.deps,
    },
  );
  let seq = runner.appliedSeq;
  const messages = () =>
    writer
      .lines(gw1)
      .filter((l): l is Extract<BusLine, { op: 'M' }> => l.op === 'M')
      .map((l) => JSON.parse(l.payload.toString('utf8')) as Record<string, unknown>);
  return {
    runner,
    writer,
    registry,
    history,
    savedConfigs,
    send: (msg) => runner.apply(++seq, FrameKind.Json, Buffer.from(JSON.stringify(msg))),
    messages,
    waitForMessage: (pred, message = 'a matching message') =>
      waitFor(() => (messages().some(pred) ? messages() : undefined), { message }),
  };
}

/** A predicate on a public message's `type` (and optionally more). */
export const ofType =
  (type: string, more: (m: Record<string, unknown>) => boolean = () => true) =>
  (m: Record<string, unknown>) =>
    m.type === type && more(m);
