// A real Prometheus server for tests (the Debian `prometheus` package, as `.ci/run` installs it), on a free
// loopback port with a temporary config and data directory, removed on stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '@rtv/testing';
import { stringify } from 'yaml';

export interface PrometheusServer {
  url: string;
  /** Instant query over the HTTP API; resolves with the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  output(): string;
  stop(): Promise<void>;
}

export interface ScrapeJob {
  job: string;
  /** `host:port` targets; the path is /metrics. */
  targets: string[];
}

export async function startPrometheus(jobs: ScrapeJob[], scrapeIntervalS = 1): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtv-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: `${scrapeIntervalS}s`, scrape_timeout: `${scrapeIntervalS}s` },
      scrape_configs: jobs.map((j) => ({ job_name: j.job, static_configs: [{ targets: j.targets }] })),
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) =>
      reject(new Error(`cannot start prometheus (${err.message}); install the prometheus package`)),
    ),
  );

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      spawnError,
      waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: 'prometheus is ready',
      }),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output}`);
  }

  return {
    url,
    output: () => output,
    stop,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: unknown } };
      if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
      return body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    },
  };
}
