import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisTopologyFromEnv } from '@rtv/bus';
import { freePort, type SpawnedService, spawnService, WsTestClient } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../../services/gateway/src/config.js';
import { loadWorkerConfig } from '../../services/session-worker/src/config.js';
import { loadStatusConfig } from '../../services/status-api/src/config.js';
import { runClusterInit, startComposeClusterNodes } from './support/compose-cluster.js';
import { parseDockerfile } from './support/dockerfile.js';
import { REPO_ROOT } from './support/helm.js';
import { SERVICES, type ServiceFacts } from './support/services.js';

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  stop_grace_period?: string;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
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
 * The services as `docker-compose config` resolves them (with `profiles` enabled), the provider settings coming
 * only from `hostEnv` (the shell) and `dotEnv` (the lines of an .env file).
 */
function resolvedServices(
  hostEnv: Record<string, string>,
  dotEnv: string[] = [],
  profiles: string[] = [],
): Record<string, ComposeService> {
  const [bin, ...pre] = composeCommand();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PROVIDER_HOST_VARS) delete env[name];
  // Our own env file, so a developer's .env does not leak into the result.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-compose-'));
  try {
    const envFile = path.join(dir, '.env');
    writeFileSync(envFile, dotEnv.map((line) => `${line}\n`).join(''));
    const profileArgs = profiles.flatMap((profile) => ['--profile', profile]);
    const res = spawnSync(
      bin!,
      [...pre, '--env-file', envFile, '-f', COMPOSE_FILE, ...profileArgs, 'config'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...env, ...hostEnv },
      },
    );
    expect(res.status, res.stderr).toBe(0);
    return (parse(res.stdout) as { services: Record<string, ComposeService> }).services;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const readText = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const seconds = (duration: string) => Number(/^(\d+)s$/.exec(duration)?.[1] ?? Number.NaN);

/** The stack a compose service belongs to: the default one (no profile) or the `cluster` profile's. */
type Stack = 'default' | 'cluster';
const stackOf = (svc: ComposeService): Stack | undefined =>
  svc.profiles === undefined ? 'default' : svc.profiles.includes('cluster') ? 'cluster' : undefined;

/** The cluster profile's Redis nodes and the seed URLs its services get. */
const CLUSTER_NODES = ['redis-node-1', 'redis-node-2', 'redis-node-3'];
const CLUSTER_REDIS_URL = CLUSTER_NODES.map((node) => `redis://${node}:6379`).join(',');

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

  it('is a valid compose file (docker-compose config), with and without the cluster profile', () => {
    const [bin, ...pre] = composeCommand();
    for (const profileArgs of [[], ['--profile', 'cluster']]) {
      const res = spawnSync(bin!, [...pre, '-f', COMPOSE_FILE, ...profileArgs, 'config', '--quiet'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, OPENAI_API_KEY: '' },
      });
      expect(res.stderr, profileArgs.join(' ')).toBe('');
      expect(res.status, profileArgs.join(' ')).toBe(0);
    }
  });

  it('keeps the cluster profile apart: the default stack neither runs nor waits for any of it', () => {
    const profiled = Object.entries(services).filter(([, svc]) => svc.profiles !== undefined);
    expect(profiled.map(([name]) => name).sort()).toEqual(
      [
        ...CLUSTER_NODES,
        'redis-cluster-init',
        'cluster-status-api',
        'cluster-worker-1',
        'cluster-worker-2',
        'cluster-gateway-1',
        'cluster-gateway-2',
      ].sort(),
    );
    for (const [name, svc] of profiled) expect(svc.profiles, name).toEqual(['cluster']);
    for (const [name, svc] of Object.entries(services)) {
      if (stackOf(svc) !== 'default') continue;
      const needs = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      for (const dependency of needs)
        expect(stackOf(services[dependency]!), `${name} depends on ${dependency}`).toBe('default');
    }
  });

  it('resolves the cluster profile: three cluster nodes, a one-shot cluster create, services on the seed list', () => {
    const resolved = resolvedServices({}, [], ['cluster']);
    const nodeConf = readText('deploy/compose/redis-cluster-node.conf');
    for (const line of [
      'cluster-enabled yes',
      'cluster-preferred-endpoint-type hostname',
      'maxmemory-policy noeviction',
      'port 6379',
    ])
      expect(nodeConf.split('\n'), line).toContain(line);
    for (const node of CLUSTER_NODES) {
      const svc = resolved[node]!;
      expect(svc.image, node).toMatch(/^redis:7\./);
      // Each node announces its container name, which the services reach on the compose network.
      expect(svc.command, node).toEqual([
        'redis-server',
        '/usr/local/etc/redis/redis.conf',
        '--cluster-announce-hostname',
        node,
      ]);
      expect(services[node]!.volumes, node).toEqual([
        './deploy/compose/redis-cluster-node.conf:/usr/local/etc/redis/redis.conf:ro',
      ]);
      expect(svc.ports ?? [], node).toEqual([]);
      expect(svc.healthcheck?.test, node).toEqual(['CMD', 'redis-cli', 'ping']);
    }
    const init = resolved['redis-cluster-init']!;
    expect(init.depends_on).toEqual(
      Object.fromEntries(CLUSTER_NODES.map((node) => [node, { condition: 'service_healthy' }])),
    );
    expect(init.environment?.REDIS_CLUSTER_NODES).toBe(CLUSTER_NODES.map((n) => `${n}:6379`).join(' '));
    expect(init.command).toEqual(['sh', '/usr/local/bin/redis-cluster-init.sh']);
    expect(services['redis-cluster-init']!.volumes).toEqual([
      './deploy/compose/redis-cluster-init.sh:/usr/local/bin/redis-cluster-init.sh:ro',
    ]);
    const loaders = {
      gateway: loadGatewayConfig,
      'session-worker': loadWorkerConfig,
      'status-api': loadStatusConfig,
    };
    const clusterRuns = [...runs].filter(([name]) => stackOf(services[name]!) === 'cluster');
    expect(clusterRuns).toHaveLength(5);
    for (const [name, svc] of clusterRuns) {
      const env = resolved[name]!.environment!;
      expect(env.RTV_REDIS_MODE, name).toBe('cluster');
      const seeds = env.REDIS_URL!.split(',');
      expect(seeds, name).toHaveLength(3);
      expect(
        seeds.map((seed) => new URL(seed).hostname),
        name,
      ).toEqual(CLUSTER_NODES);
      // What the service makes of it: its config schema accepts the list, and it connects as a cluster client.
      expect(loaders[svc.name](env).REDIS_URL, name).toBe(CLUSTER_REDIS_URL);
      expect(redisTopologyFromEnv(env), name).toEqual({ mode: 'cluster' });
    }
  }, 30_000);

  it('builds every service image from a Dockerfile target, two gateways and two workers in each stack', () => {
    const stages = new Set(parseDockerfile(readText('Dockerfile')).stages.map((s) => s.name));
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.build) continue;
      expect(svc.build.context, name).toBe('.');
      expect(stages.has(svc.build.target!), `${name}: target ${svc.build.target}`).toBe(true);
      expect(SERVICES[svc.build.target as ServiceFacts['name']], `${name} runs a service`).toBeDefined();
      expect(svc.image, name).toBe(`realtime-voice-${svc.build.target}:local`);
    }
    for (const stack of ['default', 'cluster'] as const) {
      const count = (target: string) =>
        [...runs].filter(([name, s]) => s.name === target && stackOf(services[name]!) === stack).length;
      expect(count('gateway'), stack).toBe(2);
      expect(count('session-worker'), stack).toBe(2);
      expect(count('status-api'), stack).toBe(1);
    }
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
    expect(ids.size).toBe(8);
    // `--profile cluster up` runs both stacks side by side: no host port may be published twice.
    const hostPorts = Object.values(services).flatMap((svc) => (svc.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("points every service at its stack's Redis and gateways at their stack's status API", () => {
    expect(services.redis?.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    // Passwordless only because it publishes no port: just the compose services reach it, on their network.
    expect(services.redis?.ports ?? []).toEqual([]);
    for (const [name, svc] of runs) {
      const env = services[name]!.environment!;
      const stack = stackOf(services[name]!);
      const statusApi = stack === 'cluster' ? 'cluster-status-api' : 'status-api';
      if (stack === 'cluster') {
        expect(env.RTV_REDIS_MODE, name).toBe('cluster');
        expect(env.REDIS_URL, name).toBe(CLUSTER_REDIS_URL);
        expect(services[name]!.depends_on, name).toEqual({
          'redis-cluster-init': { condition: 'service_completed_successfully' },
        });
      } else {
        expect(env.RTV_REDIS_MODE, name).toBeUndefined();
        expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      }
      if (svc.name === 'gateway') {
        const statusPort = services[statusApi]!.environment!.RTV_STATUS_PORT;
        expect(env.RTV_STATUS_URL, name).toBe(`http://${statusApi}:${statusPort}`);
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

  it('load-balances over every gateway of the default stack', () => {
    const nginx = readText('deploy/compose/nginx.conf');
    const upstream = /upstream gateways \{([^}]*)\}/.exec(nginx)?.[1] ?? '';
    const servers = [...upstream.matchAll(/server\s+([\w.-]+:\d+)/g)].map((m) => m[1]).sort();
    const gateways = [...runs]
      .filter(([name, svc]) => svc.name === 'gateway' && stackOf(services[name]!) === 'default')
      .map(([name]) => `${name}:${services[name]!.environment!.RTV_GATEWAY_PORT}`)
      .sort();
    expect(servers).toEqual(gateways);
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
  });

  it('has Prometheus scrape every service of the default stack on the port serving its /metrics', () => {
    const config = parse(readText('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const scraped = config.scrape_configs
      .flatMap((job) => job.static_configs.flatMap((c) => c.targets))
      .sort();
    const expected = [...runs]
      .filter(([name]) => stackOf(services[name]!) === 'default')
      .map(([name, svc]) => `${name}:${services[name]!.environment![svc.adminPortVar]}`)
      .sort();
    // Besides the services, only Redis's exporter may be scraped (its job is added with the exporter's alerts).
    const exporter = `redis-exporter:${services['redis-exporter']!.ports![0]!.split(':').at(-1)}`;
    expect(scraped.filter((target) => target !== exporter)).toEqual(expected);
  });

  it("runs Redis's exporter in the default stack, on that stack's Redis, with the chart's pinned tag", () => {
    const exporter = services['redis-exporter']!;
    expect(stackOf(exporter)).toBe('default');
    const values = parse(readText('deploy/helm/realtime-voice/values.yaml')) as {
      redis: { exporter: { image: { repository: string; tag: string }; port: number } };
    };
    const { image, port } = values.redis.exporter;
    expect(image.tag).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(exporter.image).toBe(`${image.repository}:${image.tag}`);
    expect(exporter.ports).toEqual([`${port}:${port}`]);
    // The address the services use; a password only if the compose Redis asked for one.
    expect(exporter.environment?.REDIS_ADDR).toBe(services['gateway-1']!.environment!.REDIS_URL);
    const password = /--requirepass\s+(\S+)/.exec(services.redis!.command!.join(' '))?.[1];
    expect(exporter.environment?.REDIS_PASSWORD).toBe(password);
    expect(exporter.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    // Started by a plain `up`, and resolved by compose as such.
    expect(resolvedServices({})['redis-exporter']?.image).toBe(exporter.image);
  }, 30_000);

  it('builds every image FROM the BASE_IMAGE given to compose, the Dockerfile default otherwise', () => {
    const dockerfileDefault = parseDockerfile(readText('Dockerfile')).globalArgs.get('BASE_IMAGE');
    expect(dockerfileDefault).toMatch(/^node:/);
    const built = (resolved: Record<string, ComposeService>) =>
      Object.entries(resolved).filter(([, svc]) => svc.build !== undefined);
    const byDefault = built(resolvedServices({}, [], ['cluster']));
    expect(byDefault.length).toBe([...runs].length);
    for (const [name, svc] of byDefault) expect(svc.build?.args?.BASE_IMAGE, name).toBe(dockerfileDefault);
    const local = 'localhost/realtime-voice-base:node20.0.0';
    for (const [name, svc] of built(resolvedServices({ BASE_IMAGE: local }, [], ['cluster'])))
      expect(svc.build?.args?.BASE_IMAGE, name).toBe(local);
  }, 30_000);

  it('has an override for the images built here: the same services of both stacks, their images tagged with the chart appVersion', () => {
    const override = parse(readText('deploy/images/compose.local.yml')) as {
      services: Record<string, ComposeService>;
    };
    const appVersion = (parse(readText('deploy/helm/realtime-voice/Chart.yaml')) as { appVersion: string })
      .appVersion;
    for (const [name, svc] of Object.entries(override.services)) {
      expect(services[name], `${name} is a service of docker-compose.yml`).toBeDefined();
      expect(['default', 'cluster'], name).toContain(stackOf(services[name]!));
      const target = services[name]!.build?.target;
      if (target) {
        expect(svc.image, name).toBe(`realtime-voice-${target}:\${RTV_IMAGE_TAG:-${appVersion}}`);
      } else {
        expect(svc.image, name).toMatch(/^localhost\//);
      }
    }
    // Merged with the compose file it is still a valid one.
    const [bin, ...pre] = composeCommand();
    const res = spawnSync(
      bin!,
      [
        ...pre,
        '-f',
        COMPOSE_FILE,
        '-f',
        path.join(REPO_ROOT, 'deploy/images/compose.local.yml'),
        'config',
        '--quiet',
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, OPENAI_API_KEY: '' } },
    );
    expect(res.status, res.stderr).toBe(0);
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
      const resolved = resolvedServices(hostEnv, dotEnv, ['cluster']);
      const envs = [...runs]
        .filter(([, svc]) => svc.name === 'session-worker')
        .map(([name]) => resolved[name]!.environment ?? {});
      expect(envs).toHaveLength(4);
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

describe("the cluster profile's Redis Cluster, built by redis-cluster-init.sh, under the profile's services", () => {
  const spawned: SpawnedService[] = [];
  let nodes: Awaited<ReturnType<typeof startComposeClusterNodes>> | undefined;

  afterAll(async () => {
    for (const service of spawned.reverse()) await service.stop('SIGKILL');
    await nodes?.stop();
  });

  /** `redis-cli` on one node, as the init script and an operator would run it. */
  const nodeCli = (port: number, args: string[]) =>
    spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;

  it('joins the nodes once, then runs a gateway, a worker and the status API with their compose environment', async () => {
    const resolved = resolvedServices({}, [], ['cluster']);
    nodes = await startComposeClusterNodes(CLUSTER_NODES.length);
    const ports = nodes.ports;
    // The compose names, mapped to the nodes on this machine.
    const local = (text: string) =>
      CLUSTER_NODES.reduce((out, node, i) => out.replaceAll(`${node}:6379`, `127.0.0.1:${ports[i]}`), text);
    const initEnv = {
      REDIS_CLUSTER_NODES: local(resolved['redis-cluster-init']!.environment!.REDIS_CLUSTER_NODES!),
    };

    const first = runClusterInit(initEnv);
    expect(first.status, first.output).toBe(0);
    expect(first.output).toContain('redis-cluster-init: cluster created');
    for (const port of ports) {
      const info = nodeCli(port, ['cluster', 'info']);
      expect(info, `node ${port}`).toMatch(/^cluster_state:ok\r?$/m);
      expect(info).toMatch(/^cluster_slots_assigned:16384\r?$/m);
      expect(info).toMatch(/^cluster_known_nodes:3\r?$/m);
    }
    // A second `up` finds the cluster serving every slot and leaves it alone.
    const again = runClusterInit(initEnv);
    expect(again.status, again.output).toBe(0);
    expect(again.output).toContain('nothing to do');

    const [statusPort, workerAdmin, gatewayPort, gatewayAdmin] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const envOf = (name: string, overrides: Record<string, string>) => {
      const env = resolved[name]!.environment!;
      return { ...env, REDIS_URL: local(env.REDIS_URL!), RTV_LOG_LEVEL: 'warn', ...overrides };
    };
    spawned.push(
      await spawnService(
        'services/status-api/src/main.ts',
        envOf('cluster-status-api', { RTV_STATUS_PORT: String(statusPort), RTV_STATUS_HOST: '127.0.0.1' }),
        { readyUrl: `http://127.0.0.1:${statusPort}/readyz`, timeoutMs: 30_000 },
      ),
      await spawnService(
        'services/session-worker/src/main.ts',
        envOf('cluster-worker-1', {
          RTV_WORKER_ADMIN_PORT: String(workerAdmin),
          RTV_ADMIN_HOST: '127.0.0.1',
        }),
        { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`, timeoutMs: 30_000 },
      ),
      await spawnService(
        'services/gateway/src/main.ts',
        envOf('cluster-gateway-1', {
          RTV_GATEWAY_HOST: '127.0.0.1',
          RTV_GATEWAY_PORT: String(gatewayPort),
          RTV_GATEWAY_ADMIN_PORT: String(gatewayAdmin),
          RTV_ADMIN_HOST: '127.0.0.1',
          RTV_STATUS_URL: `http://127.0.0.1:${statusPort}`,
        }),
        { readyUrl: `http://127.0.0.1:${gatewayAdmin}/readyz`, timeoutMs: 30_000 },
      ),
    );

    const ws = await WsTestClient.connect(
      `ws://127.0.0.1:${gatewayPort}/api/v1/streaming/realtime/cluster_user`,
    );
    await ws.nextOfType('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Hello through the Redis Cluster' },
    });
    await ws.nextOfType('response.done', 30_000);
    await ws.close();
    const status = await fetch(`http://127.0.0.1:${statusPort}/api/v1/streaming/realtime/status`);
    expect(status.status).toBe(200);
    const body = (await status.json()) as { workers: { id: string }[] };
    expect(body.workers.map((w) => w.id)).toEqual(['cluster-worker-1']);
    // The keys carry their own hash tags, so they spread over the masters rather than sharing one slot.
    const holding = ports.filter((port) => Number(nodeCli(port, ['dbsize']).trim()) > 0);
    expect(holding.length).toBeGreaterThanOrEqual(2);
    for (const service of spawned) expect(service.output()).not.toMatch(/CROSSSLOT|CLUSTERDOWN|MOVED/);
  }, 150_000);
});
