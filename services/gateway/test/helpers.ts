import { DEFAULT_CONNECTION_RATE_LIMITS } from '@rtv/auth';
import {
  type AttachRefusal,
  type AttachRequest,
  type AttachResult,
  createKeys,
  type DetachRequest,
  MemoryBusWriter,
  type SessionJobData,
} from '@rtv/bus';
import { DEFAULT_FRAME_LIMITS, encodeBatch, type FrameLimits } from '@rtv/protocol';
import { createLogger, createRegistry } from '@rtv/service-kit';
import type { Counter, Gauge } from 'prom-client';
import { createGatewayMetrics, type GatewayMetrics } from '../src/metrics.js';
import {
  ClientSession,
  type ClientSessionLimits,
  type ClientSocket,
  closeClientSocket,
} from '../src/routing/client-session.js';
import { ResumeTokens } from '../src/routing/resume-tokens.js';
import { ClientSessionRegistry } from '../src/routing/session-registry.js';
import { SessionRouter, type SessionRouterDeps } from '../src/routing/session-router.js';
import { ClientFrameIntake } from '../src/ws/frame-intake.js';
import {
  type LifecycleStore,
  SessionLifecycle,
  type SessionLifecycleDeps,
} from '../src/ws/session-lifecycle.js';

export const GATEWAY_ID = 'gw-test';
export const SESSION_LIMITS: ClientSessionLimits = { pendingMaxFrames: 4, replayMaxBytes: 64 * 1024 };

export const silentLog = createLogger('gateway-test', 'silent');

export function newMetrics(): GatewayMetrics {
  return createGatewayMetrics(createRegistry({ rtv_service: 'gateway' }));
}

/** The value of a counter or gauge (for the given labels, or unlabelled). */
export async function counterValue(
  counter: Counter<string> | Gauge<string>,
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k as keyof typeof v.labels]) === want),
  );
  return match?.value ?? 0;
}

/**
 * Stands in for the uWS socket: records what was sent and how it was ended. `onEnd` plays uWS's part of
 * calling the close handler synchronously from `end`.
 */
export class TestSocket implements ClientSocket {
  readonly sent: string[] = [];
  ended: { code: number; reason: string } | undefined;
  buffered = 0;
  corks = 0;
  onEnd: ((code: number) => void) | undefined;

  send(message: string | Uint8Array, _isBinary: boolean): number {
    this.sent.push(typeof message === 'string' ? message : Buffer.from(message).toString());
    return 1;
  }

  end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = { code, reason };
    this.onEnd?.(code);
  }

  cork(cb: () => void): this {
    this.corks++;
    cb();
    return this;
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  /** Every sent frame, parsed. */
  messages(): Array<Record<string, unknown> & { type: string }> {
    return this.sent.map((text) => JSON.parse(text));
  }

  /** The `error.code` of every error frame sent. */
  errorCodes(): string[] {
    return this.messages()
      .filter((m) => m.type === 'error')
      .map((m) => (m.error as { code: string }).code);
  }
}

/** A session with a test socket attached, not registered anywhere. */
export function newSession(
  sid = 'sess_aaaaaaaaaaaaaaaaaaaaa',
  opts: { openedAt?: number; limits?: ClientSessionLimits } = {},
): ClientSession {
  const limits = opts.limits ?? SESSION_LIMITS;
  const session = new ClientSession(sid, 'user_1', 'anonymous', opts.openedAt ?? Date.now(), limits);
  const socket = new TestSocket();
  session.ws = socket;
  sockets.set(session, socket);
  return session;
}

/** The sessions' test sockets: kept here because a closed session lets go of its `ws`. */
const sockets = new WeakMap<ClientSession, TestSocket>();

/** The test socket `session` was made with (also after it closed). */
export function socketOf(session: ClientSession): TestSocket {
  const socket = sockets.get(session);
  if (!socket) throw new Error('session was not made by newSession');
  return socket;
}

/** The session records and the queue, in memory: what the lifecycle reads and writes is kept for asserts. */
/**
 * A `SessionRouter` on an in-memory bus with its registry and metrics. `closeClient` defaults to closing the
 * test socket, as the gateway does.
 */
export function newRouting(
  opts: Partial<Pick<SessionRouterDeps, 'maxBackpressureBytes' | 'closeClient'>> = {},
) {
  const keys = createKeys('rtv-test');
  const writer = new MemoryBusWriter();
  const registry = new ClientSessionRegistry();
  const metrics = newMetrics();
  const router = new SessionRouter({
    gatewayId: GATEWAY_ID,
    keys,
    writer,
    registry,
    metrics,
    log: silentLog,
    maxBackpressureBytes: opts.maxBackpressureBytes ?? 1024 * 1024,
    closeClient: opts.closeClient ?? closeClientSocket,
  });
  return { keys, writer, registry, metrics, router };
}

export class MemoryStore implements LifecycleStore {
  readonly created: SessionJobData[] = [];
  readonly discarded: string[] = [];
  readonly detached: Array<{ sid: string; deliveredSeq: number | undefined; generation?: number }> = [];
  readonly attachRequests: AttachRequest[] = [];
  readonly revoked: Array<{ sid: string; generation: number }> = [];
  /** What the next `attach` answers. */
  attachResult: AttachResult | AttachRefusal = {
    status: 'attached',
    owner: 'wk-1',
    generation: 1,
    clientSeq: 0,
    createdMs: 0,
    previousGateway: GATEWAY_ID,
  };

  readonly records = {
    attach: async (_sid: string, req: AttachRequest) => {
      this.attachRequests.push(req);
      return this.attachResult;
    },
    markDetached: async (sid: string, req: DetachRequest) => {
      this.detached.push({ sid, deliveredSeq: req.deliveredSeq, generation: req.generation });
      return true;
    },
    revokeResume: async (sid: string, _userId: string, generation: number) => {
      this.revoked.push({ sid, generation });
      return true;
    },
  };

  async create(data: SessionJobData): Promise<void> {
    this.created.push(data);
  }

  async discardUnbound(sid: string): Promise<void> {
    this.discarded.push(sid);
  }
}

/** Bytes of a batch read from the gateway's out-stream, as `StreamReader` hands it to the router. */
export function batch(...lines: Buffer[]): Buffer {
  return encodeBatch(lines);
}

export interface Harness {
  keys: ReturnType<typeof createKeys>;
  writer: MemoryBusWriter;
  registry: ClientSessionRegistry;
  metrics: GatewayMetrics;
  router: SessionRouter;
  store: MemoryStore;
  tokens: ResumeTokens;
  lifecycle: SessionLifecycle;
  intake: ClientFrameIntake;
  /** Whether new sessions are accepted (the lifecycle's `accepting`). */
  accepting: boolean;
  /** A session whose socket's `end` reaches the lifecycle's close handler, as uWS does. */
  connect(sid?: string): ClientSession;
}

/**
 * The gateway's session classes wired as `startGateway` wires them, on an in-memory bus and store. Call
 * `lifecycle.dispose()` when done (the lifetime sweep is a timer).
 */
export function createHarness(
  opts: {
    lifecycle?: Partial<SessionLifecycleDeps>;
    frameLimits?: Partial<FrameLimits>;
    sessionLimits?: ClientSessionLimits;
  } = {},
): Harness {
  const sessionLimits = opts.sessionLimits ?? SESSION_LIMITS;
  const { keys, writer, registry, metrics, router } = newRouting();
  const store = new MemoryStore();
  const tokens = new ResumeTokens(Buffer.from('test-resume-secret'), {
    ttlS: 600,
    maxSessionMs: opts.lifecycle?.maxSessionMs ?? 0,
  });
  const harness = { accepting: true } as Harness;
  const lifecycle = new SessionLifecycle({
    gatewayId: GATEWAY_ID,
    router,
    registry,
    store,
    tokens,
    metrics,
    log: silentLog,
    sessionLimits,
    bindTimeoutMs: 60_000,
    accepting: () => harness.accepting,
    userLimiter: { release: async () => true },
    connectionRate: DEFAULT_CONNECTION_RATE_LIMITS,
    maxSessionMs: 0,
    ...opts.lifecycle,
  });
  const intake = new ClientFrameIntake({
    router,
    client: lifecycle,
    metrics,
    limits: { ...DEFAULT_FRAME_LIMITS, ...opts.frameLimits },
  });
  const connect = (sid?: string) => {
    const session = newSession(sid, { limits: sessionLimits });
    socketOf(session).onEnd = (code) => lifecycle.onClosed(session, code);
    return session;
  };
  return Object.assign(harness, {
    keys,
    writer,
    registry,
    metrics,
    router,
    store,
    tokens,
    lifecycle,
    intake,
    connect,
  });
}
