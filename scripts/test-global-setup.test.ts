// The test run's Redis when a Docker engine answers but cannot start the Redis image (no registry behind a
// proxy, say): the run still gets a Redis, the host's, and says why. The engine here answers its ping and
// refuses everything else, as an engine that cannot pull does for the image.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { pingRedis } from './redis.mjs';
import setup from './test-global-setup.js';

const saved = {
  REDIS_URL: process.env.REDIS_URL,
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: Docker's own variable, pointed at the stand-in engine
  DOCKER_HOST: process.env.DOCKER_HOST,
};
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const c of cleanups.splice(0)) c();
  vi.restoreAllMocks();
});

it('falls back to the host Redis, saying why, when the Docker engine cannot start the Redis image', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-engine-'));
  const socketPath = path.join(dir, 'docker.sock');
  const engine = http.createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) return res.end('OK');
    res.statusCode = 500;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ message: 'Get "https://registry-1.docker.io/v2/": no such host' }));
  });
  await new Promise<void>((resolve) => engine.listen(socketPath, resolve));
  cleanups.push(() => {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hostRedis = saved.REDIS_URL;
  process.env.DOCKER_HOST = `unix://${socketPath}`;
  delete process.env.REDIS_URL;
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
  const teardown = await setup();
  try {
    expect(lines.join('\n')).toMatch(/^tests: the Docker engine could not start redis:7-alpine \(.+\), /m);
    expect(process.env.REDIS_URL).toMatch(/^redis:\/\//);
    await expect(pingRedis(process.env.REDIS_URL!, 2000)).resolves.toBeUndefined();
    // The host's Redis of this run (the local one, or one the launcher started) is what it found.
    if (hostRedis === 'redis://127.0.0.1:6379') expect(process.env.REDIS_URL).toBe(hostRedis);
  } finally {
    await teardown();
  }
}, 60_000);
