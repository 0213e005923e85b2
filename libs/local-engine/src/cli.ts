import { startLocalEngine } from './engine.js';

// Standalone engine: `npm start -w @rtv/local-engine`. Configuration comes from RTV_ENGINE_* variables;
// a bad value stops the process with a message naming the variable.

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

const mode = choice('RTV_ENGINE_MODE', ['speech', 'echo'] as const, 'speech');
const engine = await startLocalEngine({
  host: process.env.RTV_ENGINE_HOST || '127.0.0.1',
  port: integer('RTV_ENGINE_PORT', 8089, 0, 65_535),
  mode,
  tts: choice('RTV_ENGINE_TTS', ['auto', 'espeak', 'synthetic'] as const, 'auto'),
  realtime:
    choice('RTV_ENGINE_REALTIME', ['true', 'false'] as const, mode === 'speech' ? 'true' : 'false') ===
    'true',
  apiKey: process.env.RTV_ENGINE_API_KEY || undefined,
}).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

process.stdout.write(`local-engine (${mode}) listening on ${engine.url}\n`);

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
