/** Command-line options of `npm run bench`, with the defaults (a few minutes) and `--quick` (seconds). */
import type { ScenarioName, TargetKind, VoiceRedis, VoiceRoute } from '../report/types.js';

export interface BenchOptions {
  scenarios: ScenarioName[];
  targets: TargetKind[];
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
  --help                       This text

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

function oneOf<T extends string>(name: string, values: string[], allowed: readonly T[]): T[] {
  for (const v of values) {
    if (!(allowed as readonly string[]).includes(v)) {
      throw new Error(`--${name}: unknown value ${v} (expected ${allowed.join(', ')})`);
    }
  }
  return values as T[];
}

/** Flags without a value; every other flag takes one, after `=` or as the next argument. */
const SWITCHES = new Set(['--quick', '--profile', '--update-docs']);
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

/**
 * Parses argv; `--quick` applies first so explicit flags still override it. Scenarios may be named as words
 * (`voice idle`) or with `--scenarios`, not both. Throws on anything unknown.
 */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const opts: BenchOptions = {
    ...DEFAULTS,
    ...(argv.includes('--quick') ? { ...QUICK, quick: true } : {}),
    stackEnv: {},
  };
  const { flags, words } = splitArgs(argv);
  applyFlags(opts, flags);
  if (words.length > 0) {
    if (flags.some((f) => f.startsWith('--scenarios='))) {
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
  if (opts.route !== 'seed' && !opts.scenarios.includes('voice')) {
    throw new Error(`--route=${opts.route} applies to the voice scenario, which is not selected`);
  }
  if (opts.redis !== 'single' && !opts.scenarios.includes('voice')) {
    throw new Error(`--redis=${opts.redis} applies to the voice scenario, which is not selected`);
  }
  return opts;
}

/** Applies `--flag[=value]` arguments to `opts` in order. */
function applyFlags(opts: BenchOptions, flags: string[]): void {
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
        opts.steps = list(name, need()).map((s) => Math.round(num(name, s, 1)));
        break;
      case 'threshold-ms':
        opts.thresholdMs = num(name, need(), 1);
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
