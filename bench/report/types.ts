/** The shape of `results.json` (schema `realtime-voice-bench/1`); `summary.md` and the chart are built from it. */
import type { LatencySummary } from '../lib/histogram.js';
import type { MachineInfo, ProcessStat } from '../lib/proc-stats.js';
import type { RuntimeStat } from '../lib/runtime-stats.js';

/** The stack and the baseline relay run locally; `remote` is a deployed gateway the bench only connects to (`--url`). */
export type TargetKind = 'stack' | 'baseline' | 'remote';
/** The sides a local run starts (`--targets`). */
export type LocalTargetKind = Exclude<TargetKind, 'remote'>;
export type ScenarioName = 'voice' | 'idle' | 'turn';
/**
 * The protocol the voice clients speak to the stack: the seed route (`/api/v1/streaming/realtime/<user>`) or
 * the OpenAI-compatible route (`/v1/realtime`, OpenAI Realtime GA events). The baseline relay speaks only the seed
 * protocol.
 */
export type VoiceRoute = 'seed' | 'openai';
/** The Redis a voice run's stack uses: the runner's one server, or a 3-master Redis Cluster started for the run. */
export type VoiceRedis = 'single' | 'cluster';

/**
 * One Redis server's share of a voice step's window (a master of the cluster, or the one Redis). A voice-second
 * is one session streaming for one second: 50 echoed frames of 20 ms.
 */
export interface RedisNodeStat {
  name: string;
  /** Its client port when the run started it; null for the runner's Redis. */
  port: number | null;
  /** Commands per echoed frame by command (the busiest) and in total (`INFO commandstats` deltas). */
  commandsPerFrame: Record<string, number>;
  /** All its commands over the window per voice-second. */
  commandsPerVoiceSecond: number;
  /** `total_net_input_bytes` / `total_net_output_bytes` deltas per voice-second. */
  netInBytesPerVoiceSecond: number;
  netOutBytesPerVoiceSecond: number;
  /** Its process CPU over the window, and per voice-second in µs. */
  cpuSeconds: number;
  cpuUsPerVoiceSecond: number;
}

/** 1-minute load average when a measurement started and ended (the machine is shared). */
export interface LoadAvg {
  start: number;
  end: number;
}

export interface VoiceStep {
  target: TargetKind;
  /** The route this step's clients used (absent in results written before routes existed: seed). */
  route?: VoiceRoute;
  sessions: number;
  opened: number;
  openFailures: number;
  firstError?: string;
  /** Sessions that could not be opened, by reason (`HTTP 401 unauthorized`, `close 4429`, `timeout`, …). */
  connectFailures?: Record<string, number>;
  /** Remote mode: the connects were spread over this many seconds. */
  rampS?: number;
  windowS: number;
  offeredFps: number;
  achievedFps: number;
  sent: number;
  received: number;
  /** Sent in the window and not echoed by the end of the drain. */
  lost: number;
  outOfOrder: number;
  misrouted: number;
  closedEarly: number;
  /** When sessions were closed early: how many got each close code and reason (`"1011 internal error"`). */
  closeReasons?: Record<string, number>;
  rtt: LatencySummary;
  /** The generators' lateness against the real-time schedule (high values mean they were starved). */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  /**
   * CPU of the frame path: gateway + worker + Redis for the stack, the relay for the baseline; null when it is not
   * known (a remote target: its processes are not on this machine).
   */
  serverCpuS: number | null;
  serverCpuPerFrameUs: number | null;
  /** The local engine's CPU; null for a remote target. */
  providerCpuS: number | null;
  loadgenCpuS: number;
  /** The busiest generator process, in % of one core. */
  loadgenMaxCpuPercent: number;
  processes: ProcessStat[];
  /** CPU per echoed frame of each measured process (by name), in µs; absent in older results. */
  cpuPerFrameUs?: Record<string, number>;
  /** Main-thread wake-ups (voluntary context switches) per echoed frame of each process read; absent in older results. */
  wakeupsPerFrame?: Record<string, number>;
  /** GC time and event-loop delay of the server processes over the window. */
  runtime: RuntimeStat[];
  /** Stack only: Redis commands per echoed frame over the window, by command (the busiest) and in total. */
  redisCommandsPerFrame?: Record<string, number>;
  /** Stack only: the same per Redis server (each master with `--redis cluster`), with bytes and CPU. */
  redisNodes?: RedisNodeStat[];
  loadAvg: LoadAvg;
  passed: boolean;
  failReason?: string;
}

export interface VoiceResult {
  /** The stack's client route (`--route`); absent in older results: seed. */
  route?: VoiceRoute;
  /** The stack's Redis (`--redis`); absent in older results: single. */
  redis?: VoiceRedis;
  thresholdMs: number;
  warmupS: number;
  durationS: number;
  drainS: number;
  /**
   * The load generators' and engine's warm-up before the first step: sessions streamed straight at the engine,
   * for how long, and how many opened; absent in older results and in remote runs.
   */
  generatorWarmup?: { sessions: number; seconds: number; opened: number };
  steps: VoiceStep[];
  /** The most sessions that passed (p99 ≤ threshold, nothing lost), per target; null when none did. */
  capacity: Partial<Record<TargetKind, number | null>>;
}

export interface IdleProcess {
  name: string;
  rssBeforeMB: number;
  /** After the first half of the connections. */
  rssHalfMB: number;
  rssAfterMB: number;
  /** The second half's RSS growth per connection (per set-up session for the worker). */
  perConnectionKB: number;
  /** RSS growth from the start, over all connections. */
  averagePerConnectionKB: number;
  /** V8 heap used + external after a forced full GC, at the end. */
  jsAfterMB: number;
  /** The second half's growth of live JavaScript memory per connection (uWS's native memory is not in it). */
  jsPerConnectionKB: number;
  /**
   * The second half's growth per connection of RSS minus V8's committed-but-free heap: what the process
   * holds for the connections (live JavaScript and native memory such as uWS's), without the slack of V8's
   * heap sizing. The headline figure.
   */
  heldPerConnectionKB: number;
}

export interface IdleSide {
  target: TargetKind;
  requested: number;
  /** Why fewer than requested were opened, when so. */
  capNote?: string;
  opened: number;
  failed: number;
  firstError?: string;
  /** Client sockets the front process held when memory was read. */
  clientsOpen: number;
  /** Sessions with an open provider socket when memory was read. */
  upstream: number;
  /** Sessions set up per second over both halves (connect, bind, provider socket). */
  setupPerS: number;
  closedEarly: number;
  /** Close codes (and reasons) of the sockets the server closed while they idled. */
  closeReasons?: Record<string, number>;
  processes: IdleProcess[];
  /**
   * Memory per connection (slope) of the process that terminates client sockets (gateway or relay): its
   * `heldPerConnectionKB` (RSS without V8's free heap).
   */
  frontPerConnectionKB: number;
  loadAvg: LoadAvg;
}

export interface IdleResult {
  settleS: number;
  sides: IdleSide[];
}

export interface TurnLatency {
  medianMs: number;
  p90Ms: number;
}

export interface TurnSide {
  target: TargetKind;
  turns: number;
  failures: number;
  firstError?: string;
  firstDelta: TurnLatency;
  firstAudio: TurnLatency;
  /**
   * From the start of the connect to the first audio of the first reply: upgrade, session set-up (binding, the
   * provider's handshake), the configuration round trip and the turn (absent in older results).
   */
  firstAudioFromConnect?: TurnLatency;
  samples: Array<{ firstDeltaMs: number; firstAudioMs: number; firstAudioFromConnectMs?: number }>;
}

/**
 * `--pool-compare`: the stack's turns with the worker's provider-connection pool off (`RTV_PROVIDER_POOL_SIZE=0`)
 * and at its default, against an engine that waits `handshakeMs` before `session.created`.
 */
export interface PoolComparison {
  handshakeMs: number;
  rows: Array<{ pool: 'off' | 'default'; stackEnv: Record<string, string>; side: TurnSide }>;
}

export interface TurnResult {
  /** The route the turns were taken on (absent: seed). */
  route?: VoiceRoute;
  text: string;
  warmupTurns: number;
  sides: TurnSide[];
  poolCompare?: PoolComparison;
  loadAvg: LoadAvg;
}

/** Remote mode's idle scenario: connections held open without traffic; server memory is not known remotely. */
export interface RemoteIdleResult {
  requested: number;
  opened: number;
  failed: number;
  firstError?: string;
  /** Connections that could not be opened, by reason (as `VoiceStep.connectFailures`). */
  connectFailures: Record<string, number>;
  rampS: number;
  /** How long the open connections were held before the count. */
  heldS: number;
  /** Still open at the end of the hold. */
  stillOpen: number;
  closedEarly: number;
  /** The server's closes during the hold, by close code. */
  closeReasons: Record<string, number>;
}

/** Where a remote run connected: the gateway it was pointed at (`--url`), never the credentials. */
export interface RemoteTarget {
  kind: 'remote';
  /** The URL without user info or query credentials. */
  url: string;
  route: VoiceRoute;
  /** How many distinct credentials the sessions used in turn, and where they came from. */
  credentials: number;
  /** `anonymous`: the seed route's anonymous form, no credential; each session a user of its own. */
  credentialSource: 'token' | 'token-file' | 'env' | 'anonymous';
  /** The anonymous route's user as `--url` named it (sessions connect as `<user>-bench_<n>` and the like). */
  anonymousUser?: string;
  /** Whether a private CA was given (`--ca-file`). */
  privateCa: boolean;
  /** What this machine cannot see of a deployed cluster. */
  serverCpu: 'unknown';
}

export interface BenchResults {
  schema: 'realtime-voice-bench/1';
  startedAt: string;
  finishedAt: string;
  durationS: number;
  command: string;
  options: Record<string, unknown>;
  machine: MachineInfo;
  loadAvg: LoadAvg;
  /** The Redis of the local stack; absent in remote mode, which uses none. */
  redis?: { version: string; note: string };
  /** Remote mode: the deployed gateway the run connected to; absent for a local run. */
  target?: RemoteTarget;
  loadGenerators: number;
  scenarios: { voice?: VoiceResult; idle?: IdleResult; idleRemote?: RemoteIdleResult; turn?: TurnResult };
  /** Scenarios that could not run to the end, with the reason. */
  errors: Array<{ scenario: ScenarioName; message: string }>;
}
