// The chart's Redis exporter against a real Redis: redis-server started with the arguments the chart gives
// the bundled Redis (maxmemory, the services' ACL user and the exporter's own), and Debian's build of
// redis_exporter configured with the environment the chart gives the exporter container. Its /metrics and
// its multi-target /scrape route (what the ServiceMonitor asks) must report the server, with no command
// refused by the exporter's ACL user.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { freePort, waitFor } from '@rtv/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Container, find, podTemplate, render } from './support/helm.js';
import { startRedisServer, type TestRedisServer } from './support/redis-servers.js';

const EXPORTER_BIN = '/usr/bin/prometheus-redis-exporter';
const PASSWORD = 'exporter-test-password-never-printed';
const MAXMEMORY = '123mb';
const MAXMEMORY_BYTES = 123 * 1024 * 1024;

/** The chart rendered with the exporter on (the bundled Redis and ServiceMonitors on: its default). */
const rendered = () =>
  render({ set: { 'metrics.serviceMonitor.enabled': 'true', 'redis.bundled.maxmemory': MAXMEMORY } });

/** The bundled Redis's arguments from --maxmemory on, with the password the kubelet would fill in. */
function chartRedisArgs(objects: ReturnType<typeof render>): string[] {
  const redis = podTemplate(find(objects, 'StatefulSet', '-redis')).spec.containers[0] as unknown as {
    args: string[];
  };
  const from = redis.args.indexOf('--maxmemory');
  expect(from).toBeGreaterThan(0);
  return redis.args.slice(from).map((arg) => arg.replace('$(REDIS_PASSWORD)', PASSWORD));
}

/** The exporter container's plain env values (REDIS_PASSWORD comes from a Secret, so it has none). */
function chartExporterEnv(objects: ReturnType<typeof render>): Record<string, string> {
  const container: Container = podTemplate(find(objects, 'Deployment', '-redis-exporter')).spec
    .containers[0]!;
  return Object.fromEntries(
    (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
  );
}

interface Exporter {
  url: string;
  output: () => string;
  stop: () => Promise<void>;
}

const running: ChildProcess[] = [];

/** Starts the exporter with `env` only (no flags), as the container runs it, on a free loopback port. */
async function startExporter(env: Record<string, string>): Promise<Exporter> {
  try {
    accessSync(EXPORTER_BIN, constants.X_OK);
  } catch {
    throw new Error(
      `${EXPORTER_BIN} is missing: install the Debian package prometheus-redis-exporter (apt-get install prometheus-redis-exporter)`,
    );
  }
  const port = await freePort();
  const child = spawn(EXPORTER_BIN, [], {
    env: { PATH: process.env.PATH ?? '', ...env, REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the exporter exited: ${output}`);
      return (await fetch(`${url}/health`).catch(() => undefined))?.ok === true;
    },
    { timeoutMs: 20_000, message: 'the exporter answering /health' },
  );
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Samples of the Prometheus text format, by metric name (first sample of each, labels ignored). */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && !samples.has(match[1]!)) samples.set(match[1]!, Number(match[3]));
  }
  return samples;
}

describe('the Redis exporter as the chart configures it, against a real Redis', () => {
  let server: TestRedisServer;
  let objects: ReturnType<typeof render>;
  const exporters: Exporter[] = [];

  beforeAll(async () => {
    objects = rendered();
    server = await startRedisServer(chartRedisArgs(objects), {
      access: { user: 'rtv-exporter', password: PASSWORD },
    });
  }, 120_000);
  afterEach(async () => {
    for (const e of exporters.splice(0)) await e.stop();
  });
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    await server?.stop();
  });

  /** The chart's exporter env, pointed at the test server instead of the in-cluster Service. */
  function exporterEnv(password: string): Record<string, string> {
    const env = chartExporterEnv(objects);
    expect(env.REDIS_ADDR).toMatch(/^redis:\/\/[a-z0-9-]+-redis:6379$/);
    expect(env.REDIS_USER).toBe('rtv-exporter');
    return { ...env, REDIS_ADDR: server.url, REDIS_PASSWORD: password };
  }

  it('reports redis_up 1, maxmemory and clients on /metrics and on /scrape, with no command refused', async () => {
    const exporter = await startExporter(exporterEnv(PASSWORD));
    exporters.push(exporter);
    for (const url of [
      `${exporter.url}/metrics`,
      `${exporter.url}/scrape?target=${encodeURIComponent(server.url)}`,
    ]) {
      const metrics = await scrape(url);
      expect(metrics.get('redis_up'), `${url}\n${exporter.output()}`).toBe(1);
      expect(metrics.get('redis_memory_max_bytes'), url).toBe(MAXMEMORY_BYTES);
      expect(metrics.get('redis_connected_clients'), url).toBeGreaterThanOrEqual(1);
      // From CONFIG GET: present only because the exporter's ACL user may run it.
      expect(metrics.get('redis_config_maxclients'), url).toBeGreaterThan(0);
    }
    // Every command the exporter sent was allowed: Redis counts refusals per error code.
    const admin = new Redis(server.url, { username: 'rtv-exporter', password: PASSWORD, lazyConnect: true });
    try {
      await admin.connect();
      expect(await admin.info('errorstats')).not.toContain('NOPERM');
      // And the exporter's user can read no key and change nothing.
      await expect(admin.get('rtv:sess:{x}')).rejects.toThrow(/NOPERM/);
      await expect(admin.config('SET', 'maxmemory', '1mb')).rejects.toThrow(/NOPERM/);
      await expect(admin.call('CLIENT', 'LIST')).rejects.toThrow(/NOPERM/);
    } finally {
      admin.disconnect();
    }
    // The services' user may run neither: CONFIG and LATENCY are admin commands, hence the exporter's own user.
    const services = new Redis(server.url, { username: 'rtv', password: PASSWORD, lazyConnect: true });
    try {
      await services.connect();
      await expect(services.config('GET', 'maxmemory')).rejects.toThrow(/NOPERM/);
      await expect(services.call('LATENCY', 'LATEST')).rejects.toThrow(/NOPERM/);
    } finally {
      services.disconnect();
    }
  }, 60_000);

  it('reports redis_up 0 with a wrong password', async () => {
    const exporter = await startExporter(exporterEnv('not-the-password'));
    exporters.push(exporter);
    const metrics = await scrape(`${exporter.url}/metrics`);
    expect(metrics.get('redis_up'), exporter.output()).toBe(0);
    expect(metrics.has('redis_memory_max_bytes')).toBe(false);
  }, 60_000);
});
