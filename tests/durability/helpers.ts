// Shared pieces of the durability suites: numbered audio frames that survive an echo provider, and
// session inspection in Redis.
import { freePort, type SpawnedService, spawnService, type WsTestClient } from '@rtv/testing';
import type { Stack } from '../e2e/helpers/stack.js';

/** A 20 ms PCM16 frame (960 bytes) whose first bytes carry the frame number, as base64. */
export function numberedFrame(n: number): string {
  const buf = Buffer.alloc(960);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(0x52545631, 4);
  return buf.toString('base64');
}

/** The frame number of an echoed frame, or undefined for audio that is not one of ours. */
export function frameNumber(base64: string): number | undefined {
  const buf = Buffer.from(base64, 'base64');
  return buf.length === 960 && buf.readUInt32LE(4) === 0x52545631 ? buf.readUInt32LE(0) : undefined;
}

export function audioMessage(base64: string): object {
  return {
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio: base64 },
  };
}

type Msg = { type: string; [k: string]: unknown };

/** Frame numbers echoed back to a client, in arrival order. */
export function echoedFrames(client: WsTestClient): number[] {
  const out: number[] = [];
  for (const m of client.all() as Msg[]) {
    if (m.type !== 'response.audio') continue;
    const n = frameNumber((m.response as { audio: string }).audio);
    if (n !== undefined) out.push(n);
  }
  return out;
}

export function noticeCodes(client: WsTestClient): string[] {
  return (client.all() as Msg[])
    .filter((m) => m.type === 'session.notice')
    .map((m) => (m.notice as { code: string }).code);
}

/** Upstream frame numbers per provider connection, recorded from the local engine's client events. */
export function recordUpstream(events: NodeJS.EventEmitter): Map<string, number[]> {
  const perConnection = new Map<string, number[]>();
  events.on('client-event', (conn: string, event: { type: string; audio?: string }) => {
    if (event.type !== 'input_audio_buffer.append' || !event.audio) return;
    const n = frameNumber(event.audio);
    if (n === undefined) return;
    const list = perConnection.get(conn) ?? [];
    list.push(n);
    perConnection.set(conn, list);
  });
  return perConnection;
}

/** True when `xs` is strictly increasing by one. */
export function contiguous(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x === xs[i - 1]! + 1);
}

/** A session worker as a real process on the stack's Redis and engine (SIGKILL it to test failover). */
export async function spawnWorker(
  stack: Stack,
  id: string,
  env: Record<string, string> = {},
): Promise<SpawnedService> {
  // A caller that scrapes the worker's metrics names the admin port in `env`.
  const admin = env.RTV_WORKER_ADMIN_PORT ? Number(env.RTV_WORKER_ADMIN_PORT) : await freePort();
  return spawnService(
    'services/session-worker/src/main.ts',
    {
      REDIS_URL: stack.redis.url,
      RTV_REDIS_PREFIX: stack.redis.prefix,
      RTV_LOG_LEVEL: 'warn',
      RTV_WORKER_ID: id,
      RTV_WORKER_ADMIN_PORT: String(admin),
      OPENAI_API_KEY: stack.providerKey,
      OPENAI_REALTIME_URL: stack.engine.url,
      OPENAI_REALTIME_MODEL: 'gpt-realtime',
      RTV_PROVIDER_SHAPE: 'ga',
      ...env,
    },
    { readyUrl: `http://127.0.0.1:${admin}/readyz` },
  );
}
