import { startLocalEngine } from './engine.js';

// Standalone engine: `npm start -w @rtv/local-engine`. Configuration comes from RTV_ENGINE_* variables;
// a bad value stops the process with a message naming the variable. `--help` lists them.

const HELP = `Usage: npm start -w @rtv/local-engine [-- --help]

Local stand-in for the OpenAI Realtime API (WebSocket). Serves ws://HOST:PORT/v1/realtime?model=gpt-realtime
and the Azure GA form ws://HOST:PORT/openai/v1/realtime?model=<deployment>. Configured by environment:

  RTV_ENGINE_HOST                interface to bind                                    (default 127.0.0.1)
  RTV_ENGINE_PORT                TCP port, 0 = any free port                           (default 8089)
  RTV_ENGINE_MODE                speech | echo                                         (default speech)
  RTV_ENGINE_TTS                 auto | espeak | synthetic                             (default auto)
  RTV_ENGINE_API_KEY             key clients must present (Bearer, api-key or subprotocol); unset = no auth
  RTV_ENGINE_PACE                true | false: pace deltas at playback speed           (default false:
                                 faster than real time, like the provider)
  RTV_ENGINE_REALTIME            former name of RTV_ENGINE_PACE (alias)
  RTV_ENGINE_ALLOW_BETA          true | false: serve the retired beta shape            (default false:
                                 beta_api_shape_disabled + close 4000, like the provider)
  RTV_ENGINE_HANDSHAKE_DELAY_MS  delay before session.created, 0..60000 ms             (default 0)

Retired preview models (gpt-4o-realtime-preview*, gpt-4o-mini-realtime-preview*) are refused with
invalid_model + close 4000. Stops cleanly on SIGINT/SIGTERM.
`;

if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`local-engine: ${message}\n`);
  process.exit(1);
}

function choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    fail(`${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    fail(`${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  return value;
}

function flag(name: string, fallback: boolean): boolean {
  return choice(name, ['true', 'false'] as const, fallback ? 'true' : 'false') === 'true';
}

const mode = choice('RTV_ENGINE_MODE', ['speech', 'echo'] as const, 'speech');
// RTV_ENGINE_PACE wins over its alias RTV_ENGINE_REALTIME.
const pace = flag('RTV_ENGINE_PACE', flag('RTV_ENGINE_REALTIME', false));
const engine = await startLocalEngine({
  host: process.env.RTV_ENGINE_HOST || '127.0.0.1',
  port: integer('RTV_ENGINE_PORT', 8089, 0, 65_535),
  mode,
  tts: choice('RTV_ENGINE_TTS', ['auto', 'espeak', 'synthetic'] as const, 'auto'),
  pace,
  allowBetaShape: flag('RTV_ENGINE_ALLOW_BETA', false),
  handshakeDelayMs: integer('RTV_ENGINE_HANDSHAKE_DELAY_MS', 0, 0, 60_000),
  apiKey: process.env.RTV_ENGINE_API_KEY || undefined,
}).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

process.stdout.write(
  `local-engine (${mode}${pace ? ', paced' : ''}) listening on ${engine.url} (Azure form: ${engine.azureUrl})\n`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    engine.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
