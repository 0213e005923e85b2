/**
 * The soak's stack, every part a real process with real signals: a private redis-server, the local engine in
 * echo mode, two gateways and three session workers. A service that is killed or drained is started again
 * the way `npm start` does it (scripts/lib/supervisor.mjs): the same command, environment, ports and worker
 * id, after the launcher's first restart delay.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, PrivateRedis } from '@rtv/testing';
import { getJson, type Launched, launch } from './processes.js';
import { type Engine, SEED_WS_PATH, startEngine } from './targets.js';

/** scripts/lib/supervisor.mjs DEFAULT_RESTART_POLICY.firstDelayMs: how soon `npm start` restarts a service. */
export const RESTART_DELAY_MS = 500;

/**
 * The echo engine never commits a user turn, so by default a worker would keep (and re-send to the new
 * provider session after every failover) the last 2 MB, about 43 s, of audio per session: a load no real
 * conversation makes, where server VAD commits a turn at every pause. A few seconds of turn is kept instead.
 */
const ECHO_TURN_MAX_BYTES = 96 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ServiceKind = 'redis' | 'engine' | 'gateway' | 'session-worker';

/** One live process of the stack, as the memory sampler sees it. */
export interface LiveProcess {
  tag: string;
  kind: ServiceKind;
  pid: number;
  /** Sessions (worker) or client connections (gateway) it holds now: what its memory should follow. */
  load?: () => Promise<number>;
}

/** A service process that exited without being told to (a crash), and how it ended. */
export interface UnexpectedExit {
  tag: string;
  pid: number;
  how: number | string | null;
  /** Unix ms. */
  at: number;
  /** The restart failed: the service stays down. */
  restartError?: string;
}

/** How long a told process may take to exit before it is SIGKILLed (a drain takes RTV_DRAIN_GRACE_MS, 3 s). */
const EXIT_TIMEOUT_MS = 30_000;

/**
 * A service that can die and come back: each start is a new process (an incarnation) with the same
 * command, environment and ports. A process that exits on its own is restarted too, as `npm start` would, and
 * recorded as a crash. Each incarnation's last output is kept in the log folder when it ends.
 */
export class SupervisedService {
  private current: Launched | undefined;
  private incarnation = 0;
  /** Set while this process is being killed or stopped on purpose. */
  private told = false;

  constructor(
    readonly tag: string,
    readonly kind: 'gateway' | 'session-worker',
    private readonly entry: string,
    private readonly env: Record<string, string>,
    readonly adminUrl: string,
    private readonly logDir: string,
    private readonly crashes: UnexpectedExit[],
  ) {}

  get pid(): number | undefined {
    return this.current?.pid;
  }

  async start(): Promise<void> {
    this.incarnation += 1;
    const launched = await launch(`${this.tag} (start ${this.incarnation})`, this.entry, this.env, {
      readyUrl: `${this.adminUrl}/readyz`,
    });
    this.current = launched;
    this.told = false;
    const n = this.incarnation;
    void launched.exited.then((how) => this.onExit(launched, n, how));
  }

  /** Sends `signal` and resolves with how the process ended (SIGKILL after {@link EXIT_TIMEOUT_MS}). */
  async signal(signal: NodeJS.Signals): Promise<number | string | null> {
    const proc = this.current;
    if (!proc) throw new Error(`${this.tag} is not running`);
    this.told = true;
    process.kill(proc.pid, signal);
    const timer = setTimeout(() => process.kill(proc.pid, 'SIGKILL'), EXIT_TIMEOUT_MS);
    const how = await proc.exited;
    clearTimeout(timer);
    this.current = undefined;
    return how;
  }

  /** Starts it again after the launcher's restart delay, and waits until it is ready. */
  async restart(): Promise<void> {
    await sleep(RESTART_DELAY_MS);
    await this.start();
  }

  /** `/healthz` of its admin port: `sessions` for a worker, `connections` for a gateway; 0 when silent. */
  async load(): Promise<number> {
    const body = await getJson(`${this.adminUrl}/healthz`);
    return Number(body?.[this.kind === 'gateway' ? 'connections' : 'sessions'] ?? 0) || 0;
  }

  async stop(): Promise<void> {
    this.told = true;
    await this.current?.stop(10_000);
  }

  private onExit(proc: Launched, n: number, how: number | string | null): void {
    mkdirSync(this.logDir, { recursive: true });
    writeFileSync(path.join(this.logDir, `${this.tag}-${n}.log`), proc.log());
    if (this.told || this.current !== proc) return;
    const crash: UnexpectedExit = { tag: this.tag, pid: proc.pid, how, at: Date.now() };
    this.crashes.push(crash);
    this.current = undefined;
    this.restart().catch((err: Error) => {
      crash.restartError = err.message.split('\n')[0];
    });
  }
}

export interface SoakStackOptions {
  redisPersistence: boolean;
  stackEnv: Record<string, string>;
  logDir: string;
  gateways?: number;
  workers?: number;
}

export class SoakStack {
  private constructor(
    readonly redis: PrivateRedis,
    readonly engine: Engine,
    readonly gateways: SupervisedService[],
    readonly workers: SupervisedService[],
    /** `ws://127.0.0.1:<port>/api/v1/streaming/realtime`, one per gateway; clients append `/<user>`. */
    readonly wsUrls: string[],
    /** Gateways and workers that exited without being told to (each was restarted). */
    readonly crashes: UnexpectedExit[],
  ) {}

  static async start(opts: SoakStackOptions): Promise<SoakStack> {
    const redis = new PrivateRedis(await freePort(), opts.redisPersistence);
    await redis.start();
    const engine = await startEngine('echo', { logDir: opts.logDir, label: 'soak' }).catch(async (err) => {
      await redis.stop();
      throw err;
    });
    const gateways: SupervisedService[] = [];
    const workers: SupervisedService[] = [];
    const wsUrls: string[] = [];
    const stack = new SoakStack(redis, engine, gateways, workers, wsUrls, []);
    try {
      const common = { REDIS_URL: redis.url, RTV_LOG_LEVEL: 'warn', ...opts.stackEnv };
      const place: Placement = { common, logDir: opts.logDir, crashes: stack.crashes };
      for (let i = 1; i <= (opts.workers ?? 3); i++) workers.push(await workerService(i, engine, place));
      // Set, as the Helm chart does: a secret generated into Redis would be gone after Redis restarts empty.
      const secret = randomBytes(32).toString('hex');
      for (let i = 1; i <= (opts.gateways ?? 2); i++) {
        const [service, wsUrl] = await gatewayService(i, secret, place);
        gateways.push(service);
        wsUrls.push(wsUrl);
      }
      await Promise.all([...workers, ...gateways].map((s) => s.start()));
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** Every process running now, for the memory samples. */
  live(): LiveProcess[] {
    const out: LiveProcess[] = [];
    if (this.redis.pid !== undefined) out.push({ tag: 'redis', kind: 'redis', pid: this.redis.pid });
    if (this.engine.probe.pid !== null)
      out.push({ tag: 'engine', kind: 'engine', pid: this.engine.probe.pid });
    for (const s of [...this.gateways, ...this.workers]) {
      if (s.pid !== undefined) out.push({ tag: s.tag, kind: s.kind, pid: s.pid, load: () => s.load() });
    }
    return out;
  }

  /** Gateways first (their clients are gone before the workers hand sessions back), then the rest. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.gateways.map((g) => g.stop()));
    await Promise.allSettled(this.workers.map((w) => w.stop()));
    await this.engine.stop().catch(() => undefined);
    await this.redis.stop();
  }
}

/** What every service of the stack shares: environment, log folder, the crash record. */
interface Placement {
  common: Record<string, string>;
  logDir: string;
  crashes: UnexpectedExit[];
}

async function workerService(i: number, engine: Engine, place: Placement): Promise<SupervisedService> {
  const admin = await freePort();
  const env = {
    RTV_WORKER_ID: `worker-${i}`,
    RTV_WORKER_ADMIN_PORT: String(admin),
    OPENAI_API_KEY: engine.apiKey,
    OPENAI_REALTIME_URL: engine.url,
    OPENAI_REALTIME_MODEL: 'gpt-realtime',
    RTV_PROVIDER_SHAPE: 'ga',
    RTV_UNCOMMITTED_TURN_MAX_BYTES: String(ECHO_TURN_MAX_BYTES),
    ...place.common,
  };
  const entry = 'services/session-worker/src/main.ts';
  return new SupervisedService(
    `worker-${i}`,
    'session-worker',
    entry,
    env,
    `http://127.0.0.1:${admin}`,
    place.logDir,
    place.crashes,
  );
}

async function gatewayService(
  i: number,
  resumeSecret: string,
  place: Placement,
): Promise<[SupervisedService, string]> {
  const [port, admin] = [await freePort(), await freePort()];
  const env = {
    RTV_GATEWAY_HOST: '127.0.0.1',
    RTV_GATEWAY_PORT: String(port),
    RTV_GATEWAY_ADMIN_PORT: String(admin),
    RTV_RESUME_SECRET: resumeSecret,
    RTV_ALLOW_ANONYMOUS: 'true',
    // Every soak client comes from 127.0.0.1: the per-address limits are meant for the internet.
    RTV_MAX_NEW_CONNECTIONS_PER_IP: '1000',
    RTV_MAX_CONNECTIONS_PER_IP: '100000',
    ...place.common,
  };
  const entry = 'services/gateway/src/main.ts';
  const service = new SupervisedService(
    `gateway-${i}`,
    'gateway',
    entry,
    env,
    `http://127.0.0.1:${admin}`,
    place.logDir,
    place.crashes,
  );
  return [service, `ws://127.0.0.1:${port}${SEED_WS_PATH}`];
}
