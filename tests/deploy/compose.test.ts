import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWorkerConfig } from '../../services/session-worker/src/config.js';
import { parseDockerfile } from './support/dockerfile.js';
import { REPO_ROOT } from './support/helm.js';
import { SERVICES, type ServiceFacts } from './support/services.js';

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  stop_grace_period?: string;
}

const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

/** `docker-compose` (v1, Debian's package, installed by .ci/run) or the `docker compose` plugin. */
function composeCommand(): string[] {
  const candidates = [['docker-compose'], ['docker', 'compose']];
  for (const argv of candidates) {
    const res = spawnSync(argv[0]!, [...argv.slice(1), 'version'], { encoding: 'utf8' });
    if (res.status === 0) return argv;
  }
  throw new Error('neither docker-compose nor docker compose is installed (apt-get install docker-compose)');
}

/** Host variables the compose file reads for the workers' provider. */
const PROVIDER_HOST_VARS = [
  'RTV_PROVIDER',
  'OPENAI_API_KEY',
  'OPENAI_REALTIME_MODEL',
  'AZURE_OPENAI_ENDPOINT',
  'AZURE_OPENAI_DEPLOYMENT',
  'AZURE_OPENAI_API_KEY',
  'AZURE_OPENAI_AD_TOKEN_FILE',
  'RTV_PROVIDER_RENEW_MS',
];

/**
 * The services as `docker-compose config` resolves them, the provider settings coming only from `hostEnv`
 * (the shell) and `dotEnv` (the lines of an .env file).
 */
function resolvedServices(
  hostEnv: Record<string, string>,
  dotEnv: string[] = [],
): Record<string, ComposeService> {
  const [bin, ...pre] = composeCommand();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PROVIDER_HOST_VARS) delete env[name];
  // Our own env file, so a developer's .env does not leak into the result.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-compose-'));
  try {
    const envFile = path.join(dir, '.env');
    writeFileSync(envFile, dotEnv.map((line) => `${line}\n`).join(''));
    const res = spawnSync(bin!, [...pre, '--env-file', envFile, '-f', COMPOSE_FILE, 'config'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...env, ...hostEnv },
    });
    expect(res.status, res.stderr).toBe(0);
    return (parse(res.stdout) as { services: Record<string, ComposeService> }).services;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const readText = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const seconds = (duration: string) => Number(/^(\d+)s$/.exec(duration)?.[1] ?? Number.NaN);

describe('docker-compose.yml', () => {
  let services: Record<string, ComposeService>;
  /** Compose service name → the realtime-voice service it runs (by Dockerfile target). */
  let runs: Map<string, ServiceFacts>;

  beforeAll(() => {
    // Anchors and merge keys resolved, as compose itself does.
    services = (parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: typeof services })
      .services;
    runs = new Map();
    for (const [name, svc] of Object.entries(services)) {
      const target = svc.build?.target;
      if (target) runs.set(name, SERVICES[target as ServiceFacts['name']]);
    }
  });

  it('is a valid compose file (docker-compose config)', () => {
    const [bin, ...pre] = composeCommand();
    const res = spawnSync(bin!, [...pre, '-f', COMPOSE_FILE, 'config', '--quiet'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, OPENAI_API_KEY: '' },
    });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('builds every service image from a Dockerfile target, two gateways and two workers among them', () => {
    const stages = new Set(parseDockerfile(readText('Dockerfile')).stages.map((s) => s.name));
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.build) continue;
      expect(svc.build.context, name).toBe('.');
      expect(stages.has(svc.build.target!), `${name}: target ${svc.build.target}`).toBe(true);
      expect(SERVICES[svc.build.target as ServiceFacts['name']], `${name} runs a service`).toBeDefined();
      expect(svc.image, name).toBe(`realtime-voice-${svc.build.target}:local`);
    }
    const count = (target: string) => [...runs.values()].filter((s) => s.name === target).length;
    expect(count('gateway')).toBe(2);
    expect(count('session-worker')).toBe(2);
    expect(count('status-api')).toBe(1);
  });

  it('sets only environment variables the services read', () => {
    for (const [name, svc] of runs) {
      const unknown = Object.keys(services[name]!.environment ?? {}).filter((v) => !svc.env.has(v));
      expect(unknown, `${name} (${svc.name})`).toEqual([]);
    }
  });

  it("publishes each service's configured ports, and gives each instance its own id", () => {
    const ids = new Set<string>();
    for (const [name, svc] of runs) {
      const env = services[name]!.environment ?? {};
      const containerPorts = (services[name]!.ports ?? []).map((p) => Number(p.split(':').at(-1)));
      const configured = [svc.adminPortVar, ...(svc.publicPortVar ? [svc.publicPortVar] : [])].map((v) =>
        Number(env[v]),
      );
      expect(containerPorts.sort(), name).toEqual(configured.sort());
      // The compose ports are the service defaults, which the images EXPOSE and health-check.
      expect(Number(env[svc.adminPortVar]), name).toBe(svc.adminPort);
      const idVar =
        svc.name === 'gateway' ? 'RTV_GATEWAY_ID' : svc.name === 'session-worker' ? 'RTV_WORKER_ID' : '';
      if (idVar) {
        expect(env[idVar], name).toBe(name);
        ids.add(env[idVar]!);
      }
    }
    expect(ids.size).toBe(4);
  });

  it('points every service at the compose Redis and gateways at the status API', () => {
    expect(services.redis?.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    // Passwordless only because it publishes no port: just the compose services reach it, on their network.
    expect(services.redis?.ports ?? []).toEqual([]);
    for (const [name, svc] of runs) {
      const env = services[name]!.environment!;
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      if (svc.name === 'gateway') {
        const statusPort = services['status-api']!.environment!.RTV_STATUS_PORT;
        expect(env.RTV_STATUS_URL).toBe(`http://status-api:${statusPort}`);
      }
    }
  });

  it('gives gateways and workers time to drain on stop', () => {
    for (const [name, svc] of runs) {
      if (svc.name === 'status-api') continue;
      // Above the services' 30 s shutdown limit; compose's default (10 s) would SIGKILL a drain.
      expect(seconds(services[name]!.stop_grace_period ?? '10s'), name).toBeGreaterThan(30);
    }
  });

  it('load-balances over every gateway', () => {
    const nginx = readText('deploy/compose/nginx.conf');
    const upstream = /upstream gateways \{([^}]*)\}/.exec(nginx)?.[1] ?? '';
    const servers = [...upstream.matchAll(/server\s+([\w.-]+:\d+)/g)].map((m) => m[1]).sort();
    const gateways = [...runs]
      .filter(([, svc]) => svc.name === 'gateway')
      .map(([name]) => `${name}:${services[name]!.environment!.RTV_GATEWAY_PORT}`)
      .sort();
    expect(servers).toEqual(gateways);
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
  });

  it('has Prometheus scrape every service on the port serving its /metrics', () => {
    const config = parse(readText('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const scraped = config.scrape_configs
      .flatMap((job) => job.static_configs.flatMap((c) => c.targets))
      .sort();
    const expected = [...runs]
      .map(([name, svc]) => `${name}:${services[name]!.environment![svc.adminPortVar]}`)
      .sort();
    expect(scraped).toEqual(expected);
  });

  it("binds each service's admin port on every interface (Prometheus scrapes it from its own container)", () => {
    for (const [name, svc] of runs) {
      const env = services[name]!.environment ?? {};
      expect(env[svc.adminHostVar] ?? svc.adminHost, `${name}: ${svc.adminHostVar}`).toBe('0.0.0.0');
    }
    // The gateway's and the worker's default is loopback (a laptop): the compose file has to say it.
    expect(SERVICES.gateway.adminHost).toBe('127.0.0.1');
    expect(SERVICES['session-worker'].adminHost).toBe('127.0.0.1');
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (!source.startsWith('./')) continue;
        expect(existsSync(path.join(REPO_ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });

  it("passes the workers' provider settings through from the host, empty ones counting as unset", () => {
    const workerEnvs = (hostEnv: Record<string, string>, dotEnv: string[] = []) => {
      const resolved = resolvedServices(hostEnv, dotEnv);
      const envs = [...runs]
        .filter(([, svc]) => svc.name === 'session-worker')
        .map(([name]) => resolved[name]!.environment ?? {});
      expect(envs).toHaveLength(2);
      return envs;
    };
    // Nothing on the host: OpenAI (the local engine without a key); the empty AZURE_* defaults are not "set".
    for (const env of workerEnvs({})) {
      expect(env).toMatchObject({
        RTV_PROVIDER: 'openai',
        AZURE_OPENAI_ENDPOINT: '',
        AZURE_OPENAI_API_KEY: '',
      });
      const config = loadWorkerConfig(env);
      expect(config.RTV_PROVIDER).toBe('openai');
      expect(config.AZURE_OPENAI_ENDPOINT).toBeUndefined();
      // No token file: that would need a volume, which the compose file does not set up.
      expect(env.AZURE_OPENAI_AD_TOKEN_FILE).toBeUndefined();
    }
    const azure = {
      RTV_PROVIDER: 'azure',
      AZURE_OPENAI_ENDPOINT: 'https://voice-eu.openai.azure.com',
      AZURE_OPENAI_DEPLOYMENT: 'gpt-realtime',
      AZURE_OPENAI_API_KEY: 'azure-test-key',
      RTV_PROVIDER_RENEW_MS: '1680000',
    };
    // Azure from an .env file.
    for (const env of workerEnvs(
      {},
      Object.entries(azure).map(([k, v]) => `${k}=${v}`),
    )) {
      expect(loadWorkerConfig(env)).toMatchObject({ ...azure, RTV_PROVIDER_RENEW_MS: 1_680_000 });
      expect(env.OPENAI_API_KEY).toBe('');
    }
    // An Azure variable without RTV_PROVIDER=azure stops the worker at start instead of running the local engine.
    for (const env of workerEnvs({ AZURE_OPENAI_API_KEY: 'azure-test-key' })) {
      expect(() => loadWorkerConfig(env)).toThrow(/AZURE_OPENAI_API_KEY set but RTV_PROVIDER is openai/);
    }
  }, 60_000);
});
