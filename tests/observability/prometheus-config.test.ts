// The compose Prometheus (deploy/prometheus/prometheus.yml): a valid configuration that loads the rule files
// exactly as they are in deploy/prometheus/rules, scrapes Redis through redis_exporter, and gives every target
// the `pod` label the dashboard's pod selector reads.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '@rtv/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool } from './helpers/prom.js';

const CONFIG_PATH = path.join(REPO_ROOT, 'deploy/prometheus/prometheus.yml');

interface ScrapeConfig {
  job_name: string;
  static_configs: Array<{ targets: string[] }>;
  relabel_configs?: Array<{ source_labels?: string[]; regex?: string; target_label?: string }>;
}

describe('deploy/prometheus/prometheus.yml', () => {
  const text = readFileSync(CONFIG_PATH, 'utf8');
  const config = parse(text) as { rule_files: string[]; scrape_configs: ScrapeConfig[] };
  const dir = mkdtempSync(path.join(tmpdir(), 'rtv-prom-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a valid configuration that loads the rule files as they are', () => {
    // The container mounts deploy/prometheus at /etc/prometheus; here the same tree sits in a temporary dir.
    cpSync(path.join(REPO_ROOT, 'deploy/prometheus/rules'), path.join(dir, 'rules'), { recursive: true });
    const file = path.join(dir, 'prometheus.yml');
    writeFileSync(file, text.replaceAll('/etc/prometheus/', `${dir}/`));
    const res = promtool(['check', 'config', file]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('scrapes the Redis exporter as job redis', () => {
    const redis = config.scrape_configs.find((j) => j.job_name === 'redis');
    expect(redis?.static_configs.flatMap((c) => c.targets)).toEqual(['redis-exporter:9121']);
  });

  it('labels every target with its pod, the compose service name', () => {
    for (const job of config.scrape_configs) {
      const pod = job.relabel_configs?.find((r) => r.target_label === 'pod');
      expect(pod?.source_labels, job.job_name).toEqual(['__address__']);
      const host = new RegExp(`^${pod!.regex}$`).exec(job.static_configs[0]!.targets[0]!)?.[1];
      expect(host, job.job_name).toBe(job.static_configs[0]!.targets[0]!.split(':')[0]);
    }
  });
});
