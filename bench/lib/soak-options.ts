/**
 * Command-line options of `npm run bench -- soak`. Flags take their value after a space or an `=`
 * (`--minutes 10`, `--minutes=10`), like `failover`'s.
 */

export interface SoakOptions {
  /** How long the sessions stream, faults included. */
  minutes: number;
  /** Concurrent sessions, split over both gateways. */
  sessions: number;
  /** Seconds between two worker SIGKILLs. */
  killEveryS: number;
  /** Redis keeps its data across the restart (AOF, fsync always) instead of coming back empty. */
  redisPersistence: boolean;
  /** Results go to `<out>/soak-<timestamp>/`. */
  out: string;
  /** Extra environment for gateways and workers (`--stack-env=K=V,K2=V2`), added last. */
  stackEnv: Record<string, string>;
}

export const SOAK_DEFAULTS: SoakOptions = {
  minutes: 10,
  sessions: 12,
  killEveryS: 120,
  redisPersistence: false,
  out: 'bench-results',
  stackEnv: {},
};

export const SOAK_HELP = `npm run bench -- soak [--minutes 10] [--sessions 12] [--kill-every 120] [--redis-persistence]

A real stack as separate processes (a private redis-server, the local engine in echo mode, 2 gateways,
3 session workers) under a steady voice load, while a worker is SIGKILLed every --kill-every seconds (and
restarted, as npm start does), one gateway is drained (SIGTERM, restarted) and Redis is restarted once
(SIGKILL, ~3 s down, back empty on the same port). Writes soak.json and soak.md to
bench-results/soak-<time>/; exits 1 when a frame was lost or a session ended or hung.

  --minutes 10            Streaming time, faults included
  --sessions 12           Concurrent sessions, half on each gateway
  --kill-every 120        Seconds between worker SIGKILLs
  --redis-persistence     Redis comes back with its data (AOF) instead of empty
  --out bench-results     Output folder
  --stack-env K=V,K2=V2   Extra environment for gateways and workers
  --help                  This text
`;

function positive(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (raw === undefined || raw === '' || !Number.isFinite(n) || n < min) {
    throw new Error(`--${name} must be a number ≥ ${min}, got ${raw ?? 'nothing'}`);
  }
  return n;
}

function envPairs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',').filter(Boolean)) {
    const [key, val] = pair.split(/=(.*)/s, 2) as [string, string | undefined];
    if (!/^[A-Z][A-Z0-9_]*$/.test(key) || val === undefined) {
      throw new Error(`--stack-env: expected NAME=value pairs, got ${pair}`);
    }
    out[key] = val;
  }
  return out;
}

/** Parses the arguments after `soak`; 'help' for --help. Throws on anything unknown, naming it. */
export function parseSoakOptions(argv: string[]): SoakOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const opts: SoakOptions = { ...SOAK_DEFAULTS, stackEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const name = flag.replace(/^--/, '');
    const value = () => inline ?? argv[++i];
    switch (name) {
      case 'minutes':
        opts.minutes = positive(name, value(), 0.25);
        break;
      case 'sessions':
        opts.sessions = Math.round(positive(name, value(), 1));
        break;
      case 'kill-every':
        opts.killEveryS = positive(name, value(), 5);
        break;
      case 'redis-persistence':
        opts.redisPersistence = true;
        break;
      case 'out': {
        const out = value();
        if (!out) throw new Error('--out needs a folder');
        opts.out = out;
        break;
      }
      case 'stack-env':
        opts.stackEnv = { ...opts.stackEnv, ...envPairs(value()) };
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (npm run bench -- soak --help)`);
    }
  }
  return opts;
}
