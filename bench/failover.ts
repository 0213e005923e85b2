// Failover measurement (issue: sessions that survive). Kills the worker that owns a streaming session with
// SIGKILL, again and again, and reports the pause a listener hears (the longest gap between echoed audio
// frames around the kill) and the frames lost (must be 0). Figures are printed and written as JSON; nothing
// is asserted.
//
//   npm run bench -- failover [--kills 10] [--workers 3] [--lease-ms 2000] [--out bench-results]

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createKeys } from '@rtv/bus';
import { startLocalEngine } from '@rtv/local-engine';
import { createLogger } from '@rtv/service-kit';
import { createTestRedis, freePort, type SpawnedService, spawnService, waitFor } from '@rtv/testing';
import { WebSocket } from 'ws';
import { startGateway } from '../services/gateway/src/app.js';
import { loadGatewayConfig } from '../services/gateway/src/config.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const kills = flag('kills', 10);
const workerCount = Math.max(2, flag('workers', 3));
const leaseMs = flag('lease-ms', 2000);
const outIndex = args.indexOf('--out');
const outDir = outIndex >= 0 ? args[outIndex + 1]! : 'bench-results';
const KEY = 'bench-provider-key';

function frame(n: number): string {
  const b = Buffer.alloc(960);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(0x46564f52, 4);
  return b.toString('base64');
}
function frameNo(b64: string): number | undefined {
  const b = Buffer.from(b64, 'base64');
  return b.length === 960 && b.readUInt32LE(4) === 0x46564f52 ? b.readUInt32LE(0) : undefined;
}

const redis = await createTestRedis('failover-bench');
const log = createLogger('bench', 'silent');
const engine = await startLocalEngine({ mode: 'echo', apiKey: KEY });
const gateway = await startGateway(
  loadGatewayConfig({
    REDIS_URL: redis.url,
    RTV_REDIS_PREFIX: redis.prefix,
    RTV_GATEWAY_HOST: '127.0.0.1',
    RTV_GATEWAY_PORT: '0',
    RTV_GATEWAY_ADMIN_PORT: '0',
  }),
  log,
);
const workers = new Map<string, SpawnedService>();
let nextWorker = 0;
async function addWorker(): Promise<void> {
  const id = `wk-${nextWorker++}`;
  const admin = await freePort();
  workers.set(
    id,
    await spawnService(
      'services/session-worker/src/main.ts',
      {
        REDIS_URL: redis.url,
        RTV_REDIS_PREFIX: redis.prefix,
        RTV_LOG_LEVEL: 'error',
        RTV_WORKER_ID: id,
        RTV_WORKER_ADMIN_PORT: String(admin),
        RTV_LEASE_MS: String(leaseMs),
        OPENAI_API_KEY: KEY,
        OPENAI_REALTIME_URL: engine.url,
        OPENAI_REALTIME_MODEL: 'gpt-realtime',
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    ),
  );
}
for (let i = 0; i < workerCount; i++) await addWorker();

interface Round {
  pauseMs: number;
  lost: number;
  repeated: number;
}
const rounds: Round[] = [];
try {
  for (let k = 0; k < kills; k++) {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/api/v1/streaming/realtime/failover-${k}`);
    const echoes: Array<[number, number]> = [];
    const seen = new Map<number, number>();
    // undefined until session.created: waitFor treats '' as a value and would not wait.
    let sid: string | undefined;
    ws.on('message', (data: Buffer) => {
      const at = performance.now();
      const m = JSON.parse(data.toString()) as {
        type: string;
        session?: { id: string };
        response?: { audio?: string };
      };
      if (m.type === 'session.created') sid = m.session!.id;
      const n = m.type === 'response.audio' && m.response?.audio ? frameNo(m.response.audio) : undefined;
      if (n === undefined) return;
      echoes.push([at, n]);
      seen.set(n, (seen.get(n) ?? 0) + 1);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const id = await waitFor(() => sid, { message: 'session.created' });
    const key = createKeys(redis.prefix).session(id);
    const owner = await waitFor(() => redis.redis.hget(key, 'owner'), { message: 'bound' });
    const total = 300;
    let killedAt = 0;
    for (let n = 1; n <= total; n++) {
      ws.send(
        JSON.stringify({
          type: 'conversation.item.input',
          conversation_item_input: { type: 'input_audio_buffer', audio: frame(n) },
        }),
      );
      if (n === 100) {
        workers.get(owner)!.child.kill('SIGKILL');
        workers.delete(owner);
        killedAt = performance.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => seen.has(total), { timeoutMs: 20_000, message: `round ${k}: last frame echoed` });
    // The pause a listener hears: the longest silence between echoed frames from the kill on.
    let pause = 0;
    for (let i = 1; i < echoes.length; i++) {
      if (echoes[i]![0] >= killedAt)
        pause = Math.max(pause, echoes[i]![0] - Math.max(echoes[i - 1]![0], killedAt));
    }
    let lost = 0;
    let repeated = 0;
    for (let n = 1; n <= total; n++) {
      const c = seen.get(n) ?? 0;
      if (c === 0) lost++;
      if (c > 1) repeated += c - 1;
    }
    rounds.push({ pauseMs: Math.round(pause), lost, repeated });
    console.log(`kill ${k + 1}/${kills}: pause ${Math.round(pause)} ms, lost ${lost}, repeated ${repeated}`);
    await ws.close();
    await addWorker();
  }
} finally {
  await gateway.stop();
  for (const w of workers.values()) await w.stop('SIGKILL');
  await engine.close();
  await redis.cleanup();
}

const pauses = rounds.map((r) => r.pauseMs).sort((a, b) => a - b);
const summary = {
  scenario: 'failover',
  leaseMs,
  kills: rounds.length,
  pauseMedianMs: pauses[Math.floor(pauses.length / 2)] ?? 0,
  pauseMaxMs: pauses.at(-1) ?? 0,
  framesLost: rounds.reduce((a, r) => a + r.lost, 0),
  framesRepeated: rounds.reduce((a, r) => a + r.repeated, 0),
  rounds,
  loadavg: (await import('node:os')).loadavg(),
};
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(outDir, `failover-${stamp}.json`);
writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(path.join(outDir, `failover-${stamp}.md`), failoverMarkdown());

/** The run at a glance: the targets, then one row per kill. */
function failoverMarkdown(): string {
  const lines = [
    `# Failover ${new Date().toISOString()}`,
    '',
    `${summary.kills} SIGKILLs of the worker that owns a streaming session, ${workerCount} workers, lease ${leaseMs} ms, load average ${summary.loadavg.map((l) => l.toFixed(2)).join(' / ')}.`,
    '',
    '| | measured | target |',
    '| --- | --- | --- |',
    `| pause heard by the client, median / max | ${summary.pauseMedianMs} / ${summary.pauseMaxMs} ms | ≤ 3000 ms |`,
    `| frames lost | ${summary.framesLost} | 0 |`,
    `| frames re-applied (dropped as repeats by seq) | ${summary.framesRepeated} | — |`,
    '',
    '| kill | pause ms | lost | repeated |',
    '| --- | --- | --- | --- |',
    ...rounds.map((r, i) => `| ${i + 1} | ${Math.round(r.pauseMs)} | ${r.lost} | ${r.repeated} |`),
    '',
  ];
  return lines.join('\n');
}
console.log(
  `failover over ${summary.kills} kills (lease ${leaseMs} ms): pause median ${summary.pauseMedianMs} ms, max ${summary.pauseMaxMs} ms; frames lost ${summary.framesLost}, repeated ${summary.framesRepeated} → ${file}`,
);
