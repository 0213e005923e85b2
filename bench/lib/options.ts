/**
 * Command-line options of `npm run bench`, with the defaults (a few minutes) and `--quick` (seconds). With
 * `--url` the bench runs in remote mode: it starts no service and connects to a deployed gateway only.
 */
import { readFileSync } from 'node:fs';
import type { LocalTargetKind, ScenarioName, VoiceRedis, VoiceRoute } from '../report/types.js';

/** Remote mode (`--url`): a deployed gateway, the credentials its sessions present, and how to reach it. */
export interface RemoteOptions {
  /**
   * `ws://` or `wss://`: the seed route `…/api/v1/streaming/realtime`, or `…/v1/realtime?model=…` with `--route
   * openai`. For the anonymous route (`--url …/api/v1/streaming/realtime/<user>`) the URL without the user.
   */
  url: string;
  /**
   * Gateway credentials (JWTs or API keys), sent as `Authorization: Bearer …`; the sessions take them in turn,
   * so a file of tokens for several users keeps each user under the per-user connection limit.
   */
  tokens: string[];
  tokenSource: 'token' | 'token-file' | 'env' | 'anonymous';
  /**
   * The anonymous route: the user the URL named, which every session extends with its own suffix
   * (`<user>-bench_<n>`), so each session is a user of its own under the gateway's per-user connection cap.
   */
  anonymousUser?: string;
  /** PEM of a private CA for `wss://` (`--ca-file`). */
  ca?: string;
  /** Connects of a step spread over this many seconds; unset: sessions ÷ {@link DEFAULT_CONNECTS_PER_S}. */
  rampS?: number;
}

/**
 * New connections per second a remote step opens when no `--ramp-s` is given: under the gateway's default
 * per-address limit (`RTV_MAX_NEW_CONNECTIONS_PER_IP`, 20 per second), since every generator process shares
 * this machine's address.
 */
export const DEFAULT_CONNECTS_PER_S = 15;

/** Sessions per step in remote mode when `--sessions` is not given. */
const REMOTE_DEFAULT_SESSIONS = [100];

/** The turn scenario's provider handshake delay for `--pool-compare` when `--engine-handshake-ms` is not given. */
const DEFAULT_ENGINE_HANDSHAKE_MS = 300;

export interface BenchOptions {
  scenarios: ScenarioName[];
  /** The local sides to run; empty in remote mode. */
  targets: LocalTargetKind[];
  quick: boolean;
  /** Voice: the route the stack's clients use (seed protocol, or OpenAI Realtime on `/v1/realtime`). */
  route: VoiceRoute;
  /**
   * Voice: the Redis the stack runs on: the runner's one Redis (`REDIS_URL`), or a 3-master Redis Cluster the
   * scenario starts for itself and measures per master.
   */
  redis: VoiceRedis;
  /** Session counts the voice ramp tries, in order; each target stops at its first failing step. */
  steps: number[];
  /** p99 round trip above which a voice step fails. */
  thresholdMs: number;
  warmupS: number;
  durationS: number;
  /** How long echoes of the window may still arrive after sending stops before they count as lost. */
  drainS: number;
  /** Idle connections opened per target (the baseline may be capped by the open-files limit). */
  idle: number;
  turns: number;
  /** Load-generator processes. */
  procs: number;
  /** Results go to `<out>/<timestamp>/`. */
  out: string;
  /** Write `--cpu-prof` profiles of gateway, worker and relay next to the results. */
  profile: boolean;
  /** Replace the generated section of docs/benchmarks.md with this run's summary. */
  updateDocs: boolean;
  /** Extra environment for the stack's services, for A/B runs of a setting (`--stack-env=K=V,K2=V2`). */
  stackEnv: Record<string, string>;
  /** Re-render summary.md and the chart (and the docs with --update-docs) from this results folder; no run. */
  report?: string;
  /** Set: remote mode against a deployed gateway (`--url`); no local service, no baseline. */
  remote?: RemoteOptions;
  /**
   * Turn: run the stack's turns twice, with the worker's provider pool off (`RTV_PROVIDER_POOL_SIZE=0`) and at
   * its default, against an engine with a handshake delay of `engineHandshakeMs`.
   */
  poolCompare: boolean;
  engineHandshakeMs: number;
  /** Voice: run every step for every target, also after a target failed one (figures at each load). */
  allSteps: boolean;
}

const DEFAULTS: BenchOptions = {
  scenarios: ['voice', 'idle', 'turn'],
  targets: ['stack', 'baseline'],
  quick: false,
  route: 'seed',
  redis: 'single',
  steps: [100, 200, 400, 600, 800, 1000, 1200, 1600],
  thresholdMs: 50,
  warmupS: 3,
  durationS: 10,
  drainS: 3,
  idle: 10_000,
  turns: 20,
  procs: 4,
  out: 'bench-results',
  profile: false,
  updateDocs: false,
  stackEnv: {},
  poolCompare: false,
  engineHandshakeMs: DEFAULT_ENGINE_HANDSHAKE_MS,
  allSteps: false,
};

/** What `--quick` changes: tiny loads, so the smoke test proves the harness in seconds. */
const QUICK: Partial<BenchOptions> = {
  steps: [10, 20],
  warmupS: 0.5,
  durationS: 1.5,
  drainS: 2,
  idle: 40,
  turns: 2,
  procs: 2,
};

export const HELP = `npm run bench -- [scenario …] [options]
npm run bench -- failover [--kills 10] [--workers 3] [--lease-ms 2000]   (bench/failover.ts)
npm run bench -- soak [--minutes 10] [--sessions 12]   (bench/scenarios/soak.ts; soak --help for more)

Runs the stack (gateway, session worker, status API) and the baseline relay against the same local engine,
under the same load, and writes results.json, summary.md and p99-vs-sessions.svg to bench-results/<time>/.

  --scenarios=voice,idle,turn  Which scenarios to run (default: all three); also as words: voice idle
  --route=seed|openai          Voice: the stack's clients speak the seed protocol (default) or OpenAI Realtime
                               GA events on /v1/realtime; the baseline relay always speaks the seed protocol
  --redis=single|cluster       Voice: the stack on the runner's Redis (default, REDIS_URL) or on a 3-master
                               Redis Cluster started for the run (RTV_REDIS_MODE=cluster), measured per master
  --targets=stack,baseline     Which sides to run (default: both)
  --quick                      Tiny loads for a smoke run (seconds)
  --steps=100,200,400          Voice: sessions per step (default ${DEFAULTS.steps.join(',')})
  --all-steps                  Voice: run every step for both sides, also after one failed (by default a side
                               stops at its first failed step), for figures at each load
  --threshold-ms=50            Voice: a step fails when p99 exceeds this or any frame is lost
  --warmup=3 --duration=10     Voice: seconds of warm-up and of measurement per step
  --drain=3                    Voice: seconds echoes may trail the window before they count as lost
  --idle=10000                 Idle: connections per target
  --turns=20                   Turn: measured text turns per target
  --procs=4                    Load-generator processes
  --out=bench-results          Output folder
  --profile                    CPU profiles (--cpu-prof) of gateway, worker and relay
  --update-docs                Copy this run's summary into docs/benchmarks.md
  --stack-env=K=V,K2=V2        Extra environment for gateway, worker and status API (A/B a setting)
  --report=<results folder>    Only re-render summary.md and the chart from its results.json
  --sessions=100,200           Voice: same as --steps (sessions per step)
  --pool-compare               Turn: the stack's turns with the provider pool off (RTV_PROVIDER_POOL_SIZE=0)
                               and at its default, against an engine with a handshake delay; both rows reported
  --engine-handshake-ms=300    Turn: that delay (RTV_ENGINE_HANDSHAKE_DELAY_MS of the engine, and
                               RTV_LOCAL_ENGINE_HANDSHAKE_MS for the stack); default 300 with --pool-compare
  --help                       This text

Remote mode: load-test a deployed cluster. Starts no service and no baseline; connects to --url only.

  npm run bench -- --url wss://host/api/v1/streaming/realtime --token-file tokens.txt --sessions 100,200

  --url=wss://…                The gateway: …/api/v1/streaming/realtime (seed route, the default), or
                               …/v1/realtime?model=… with --route openai (OpenAI Realtime GA events)
  --token=<jwt or API key>     Sent as Authorization: Bearer <token> (prefer --token-file or RTV_BENCH_TOKEN,
                               which stay out of shell history)
  --token-file=<path>          One credential per line (# comments ignored); sessions take them in turn, so
                               tokens of several users keep each under RTV_MAX_CONNECTIONS_PER_USER
  --sessions=100,200           Sessions per voice step (default ${REMOTE_DEFAULT_SESSIONS.join(',')}); steps stop at the first that fails
  --duration=10 --warmup=3     Voice: seconds measured and of warm-up per step
  --ramp-s=S                   Spread each step's connects over S seconds (default: ${DEFAULT_CONNECTS_PER_S} per second, under
                               the gateway's default of 20 new connections per second per address)
  --ca-file=<pem>              A private CA for wss://
  --scenarios=voice,idle,turn  Default voice. voice needs workers whose engine echoes (RTV_ENGINE_MODE=echo);
                               turn needs a speaking provider; idle holds --idle connections for --duration

A flag's value may also follow it as the next argument: --route openai, --steps 100,200.
`;

function list(name: string, raw: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`--${name} needs at least one value`);
  return items;
}

function num(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${raw}`);
  return n;
}

function integer(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(
      `--${name} must be a whole number ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got ${raw}`,
    );
  }
  return n;
}

function oneOf<T extends string>(name: string, values: string[], allowed: readonly T[]): T[] {
  for (const v of values) {
    if (!(allowed as readonly string[]).includes(v)) {
      throw new Error(`--${name}: unknown value ${v} (expected ${allowed.join(', ')})`);
    }
  }
  return values as T[];
}

/** Flags without a value; every other flag takes one, after `=` or as the next argument. */
const SWITCHES = new Set(['--quick', '--profile', '--update-docs', '--pool-compare', '--all-steps']);
/** Flags that only mean something for the local stack, refused with `--url`. */
const LOCAL_ONLY = [
  'targets',
  'redis',
  'profile',
  'stack-env',
  'pool-compare',
  'all-steps',
  'engine-handshake-ms',
  'update-docs',
];
/** Flags that only mean something with `--url`. */
const REMOTE_ONLY = ['token', 'token-file', 'ca-file', 'ramp-s'];
const SCENARIOS = ['voice', 'idle', 'turn'] as const;

/**
 * Sorts argv into flags (`--flag value` joined to `--flag=value`) and bare words (scenario names), so
 * `npm run bench -- voice --route openai` reads like the failover and soak commands.
 */
function splitArgs(argv: string[]): { flags: string[]; words: string[] } {
  const flags: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (!arg.startsWith('-')) words.push(arg);
    else if (arg.includes('=') || SWITCHES.has(arg) || next === undefined || next.startsWith('-')) {
      flags.push(arg);
    } else {
      flags.push(`${arg}=${next}`);
      i++;
    }
  }
  return { flags, words };
}

/** What the flags named, before remote mode's checks turn them into {@link RemoteOptions}. */
interface RawRemote {
  url?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  rampS?: number;
}

/**
 * Parses argv; `--quick` applies first so explicit flags still override it. Scenarios may be named as words
 * (`voice idle`) or with `--scenarios`, not both. `env` supplies `RTV_BENCH_TOKEN`. Throws on anything unknown.
 */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const opts: BenchOptions = {
    ...DEFAULTS,
    ...(argv.includes('--quick') ? { ...QUICK, quick: true } : {}),
    stackEnv: {},
  };
  const { flags, words } = splitArgs(argv);
  const given = new Set(flags.map((f) => f.split('=', 1)[0]!.replace(/^--/, '')));
  const raw: RawRemote = {};
  applyFlags(opts, flags, raw);
  if (words.length > 0) {
    if (given.has('scenarios')) {
      throw new Error(
        `name the scenarios either as words (${words.join(' ')}) or with --scenarios, not both`,
      );
    }
    const unknown = words.find((w) => !(SCENARIOS as readonly string[]).includes(w));
    if (unknown !== undefined) {
      throw new Error(
        `unknown argument ${unknown} (scenarios: ${SCENARIOS.join(', ')}; npm run bench -- --help)`,
      );
    }
    opts.scenarios = [...new Set(words as ScenarioName[])];
  }
  if (raw.url !== undefined) {
    applyRemote(opts, raw, given, words.length > 0, env);
    return opts;
  }
  const remoteOnly = REMOTE_ONLY.find((f) => given.has(f));
  if (remoteOnly) throw new Error(`--${remoteOnly} applies to remote mode: add --url=wss://…`);
  if (opts.route !== 'seed' && !opts.scenarios.includes('voice')) {
    throw new Error(`--route=${opts.route} applies to the voice scenario, which is not selected`);
  }
  if (opts.redis !== 'single' && !opts.scenarios.includes('voice')) {
    throw new Error(`--redis=${opts.redis} applies to the voice scenario, which is not selected`);
  }
  if ((opts.poolCompare || given.has('engine-handshake-ms')) && !opts.scenarios.includes('turn')) {
    throw new Error(
      '--pool-compare and --engine-handshake-ms apply to the turn scenario, which is not selected',
    );
  }
  if (opts.poolCompare && !opts.targets.includes('stack')) {
    throw new Error('--pool-compare compares runs of the stack: --targets must include stack');
  }
  return opts;
}

/** Remote mode: checks the URL, reads the credentials and the CA, and sets the remote defaults. */
function applyRemote(
  opts: BenchOptions,
  raw: RawRemote,
  given: Set<string>,
  scenariosAsWords: boolean,
  env: NodeJS.ProcessEnv,
): void {
  const localOnly = LOCAL_ONLY.find((f) => given.has(f));
  if (localOnly)
    throw new Error(`--${localOnly} applies to the local stack; remote mode (--url) starts none`);
  const { url, anonymousUser } = remoteUrl(raw.url!, opts.route);
  if (anonymousUser !== undefined && (raw.token !== undefined || raw.tokenFile !== undefined)) {
    throw new Error(
      `--url names the anonymous route (…/realtime/${anonymousUser}), which takes no credential: drop --token/--token-file, or give …/api/v1/streaming/realtime to use them`,
    );
  }
  const { tokens, source } =
    anonymousUser !== undefined ? { tokens: [], source: 'anonymous' as const } : remoteTokens(raw, env);
  opts.targets = [];
  if (!given.has('scenarios') && !scenariosAsWords) opts.scenarios = ['voice'];
  if (!given.has('steps') && !given.has('sessions')) opts.steps = [...REMOTE_DEFAULT_SESSIONS];
  // Idle connections default to the largest voice step, not to the local stack's 10,000.
  if (!given.has('idle')) opts.idle = Math.max(...opts.steps);
  opts.remote = {
    url,
    tokens,
    tokenSource: source,
    ...(anonymousUser !== undefined ? { anonymousUser } : {}),
    ...(raw.caFile !== undefined ? { ca: readCa(raw.caFile) } : {}),
    ...(raw.rampS !== undefined ? { rampS: raw.rampS } : {}),
  };
}

/** The seed route's anonymous form: `…/api/v1/streaming/realtime/<user>`. */
const ANONYMOUS_SEED_PATH = /^(.*\/api\/v1\/streaming\/realtime)\/([^/]+)$/;

function remoteUrl(raw: string, route: VoiceRoute): { url: string; anonymousUser?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url: not a URL: ${raw} (expected ws://… or wss://…)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`--url must start with ws:// or wss://, got ${url.protocol}//…`);
  }
  if (url.searchParams.has('access_token')) {
    throw new Error(
      '--url: pass the credential with --token, --token-file or RTV_BENCH_TOKEN, not in the URL',
    );
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (route === 'seed' && path.endsWith('/v1/realtime') && !path.endsWith('/streaming/realtime')) {
    throw new Error('--url is the OpenAI-compatible route (/v1/realtime): add --route openai');
  }
  if (route === 'openai' && !path.endsWith('/v1/realtime')) {
    throw new Error('--route openai needs the /v1/realtime URL (wss://host/v1/realtime?model=…)');
  }
  if (route === 'openai' && !url.searchParams.has('model')) {
    throw new Error('--route openai: the URL needs the model, e.g. …/v1/realtime?model=gpt-realtime');
  }
  const anonymous = route === 'seed' ? ANONYMOUS_SEED_PATH.exec(path) : null;
  if (anonymous !== null) {
    url.pathname = anonymous[1]!;
    let anonymousUser: string;
    try {
      anonymousUser = decodeURIComponent(anonymous[2]!);
    } catch {
      throw new Error(`--url: the user in …/realtime/${anonymous[2]} is not valid percent-encoding`);
    }
    return { url: url.toString(), anonymousUser };
  }
  return { url: url.toString() };
}

/** Exactly one of --token, --token-file and RTV_BENCH_TOKEN (the flags win over the environment). */
function remoteTokens(
  raw: RawRemote,
  env: NodeJS.ProcessEnv,
): { tokens: string[]; source: RemoteOptions['tokenSource'] } {
  if (raw.token !== undefined && raw.tokenFile !== undefined) {
    throw new Error('give the credential once: --token or --token-file, not both');
  }
  if (raw.token !== undefined) return { tokens: [raw.token], source: 'token' };
  if (raw.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(raw.tokenFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new Error(`--token-file: cannot read ${raw.tokenFile} (${code})`);
    }
    const tokens = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (tokens.length === 0) throw new Error(`--token-file: ${raw.tokenFile} holds no credential`);
    return { tokens, source: 'token-file' };
  }
  const fromEnv = env.RTV_BENCH_TOKEN?.trim();
  if (fromEnv) return { tokens: [fromEnv], source: 'env' };
  throw new Error(
    'remote mode needs a gateway credential: --token, --token-file or RTV_BENCH_TOKEN (or the anonymous route: --url …/api/v1/streaming/realtime/<user>)',
  );
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `--ca-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`--ca-file: ${file} holds no PEM certificate`);
  }
  return pem;
}

/** Applies `--flag[=value]` arguments to `opts` (remote-mode flags to `raw`) in order. */
function applyFlags(opts: BenchOptions, flags: string[], raw: RawRemote): void {
  for (const arg of flags) {
    const [flag, value] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const name = flag.replace(/^--/, '');
    const need = () => {
      if (value === undefined || value === '') throw new Error(`--${name} needs a value (--${name}=…)`);
      return value;
    };
    switch (name) {
      case 'quick':
        break;
      case 'profile':
        opts.profile = true;
        break;
      case 'update-docs':
        opts.updateDocs = true;
        break;
      case 'scenarios':
        opts.scenarios = oneOf(name, list(name, need()), SCENARIOS);
        break;
      case 'route':
        opts.route = oneOf(name, [need()], ['seed', 'openai'] as const)[0]!;
        break;
      case 'redis':
        opts.redis = oneOf(name, [need()], ['single', 'cluster'] as const)[0]!;
        break;
      case 'targets':
        opts.targets = oneOf(name, list(name, need()), ['stack', 'baseline'] as const);
        break;
      case 'steps':
      case 'sessions':
        opts.steps = list(name, need()).map((s) => integer(name, s, 1));
        break;
      case 'pool-compare':
        opts.poolCompare = true;
        break;
      case 'all-steps':
        opts.allSteps = true;
        break;
      case 'engine-handshake-ms':
        opts.engineHandshakeMs = integer(name, need(), 0, 60_000);
        break;
      case 'url':
        raw.url = need();
        break;
      case 'token':
        raw.token = need();
        break;
      case 'token-file':
        raw.tokenFile = need();
        break;
      case 'ca-file':
        raw.caFile = need();
        break;
      case 'ramp-s':
        raw.rampS = num(name, need(), 0);
        break;
      case 'threshold-ms':
        opts.thresholdMs = num(name, need(), 0.001);
        break;
      case 'warmup':
        opts.warmupS = num(name, need(), 0);
        break;
      case 'duration':
        opts.durationS = num(name, need(), 0.5);
        break;
      case 'drain':
        opts.drainS = num(name, need(), 0.5);
        break;
      case 'idle':
        opts.idle = Math.round(num(name, need(), 1));
        break;
      case 'turns':
        opts.turns = Math.round(num(name, need(), 1));
        break;
      case 'procs':
        opts.procs = Math.round(num(name, need(), 1));
        break;
      case 'out':
        opts.out = need();
        break;
      case 'report':
        opts.report = need();
        break;
      case 'stack-env':
        for (const pair of list(name, need())) {
          const [key, val] = pair.split(/=(.*)/s, 2) as [string, string | undefined];
          if (!/^[A-Z][A-Z0-9_]*$/.test(key) || val === undefined) {
            throw new Error(`--stack-env: expected NAME=value pairs, got ${pair}`);
          }
          opts.stackEnv[key] = val;
        }
        break;
      default:
        throw new Error(`unknown option ${arg} (npm run bench -- --help)`);
    }
  }
}
