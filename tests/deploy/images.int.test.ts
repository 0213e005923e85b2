// The real images, built here by `npm run images` and run by the container engine that works on this machine
// (podman on CI, which has no Docker daemon and reaches no public registry: the base is then built locally
// by deploy/images/base.sh, once per machine). Each service image must run as uid 1000 on a read-only root
// file system and answer /readyz; the compose stack's Redis + status API + two gateways + two workers subset
// must come up on them (podman-compose with deploy/images/compose.local.yml), serve the spec's Python example,
// and keep a live session going on the other worker when the one owning it is stopped.
//
// No engine at all is the one case this file skips, saying why. Only a first run on a machine (base image and
// every layer) or a changed build context pays for a build: `npm run images` skips images whose inputs did not
// change, and the engine's layer cache serves the unchanged steps of the others.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKeys } from '@rtv/bus';
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberedFrame, tagOf } from '../e2e/helpers/numbered-frames.js';
import {
  type ContainerEngine,
  detectEngine,
  machineLock,
  printed,
  runCommand,
} from './support/containers.js';
import { REPO_ROOT } from './support/helm.js';

const detected = detectEngine();
const engine: ContainerEngine | undefined = 'engine' in detected ? detected.engine : undefined;
if ('reason' in detected) console.warn(`SKIPPED tests/deploy/images.int.test.ts: ${detected.reason}`);

/** Service images with the port serving /readyz and what they need besides themselves. */
const SERVICE_IMAGES = [
  { target: 'gateway', port: 9100, env: { RTV_ADMIN_HOST: '0.0.0.0' } },
  { target: 'session-worker', port: 9200, env: { RTV_ADMIN_HOST: '0.0.0.0' } },
  { target: 'status-api', port: 8090, env: {} },
  { target: 'demo-web', port: 8080, env: {} },
] as const;

const REDIS_IMAGE = 'localhost/realtime-voice-redis:bookworm';
const COMPOSE_SUBSET = ['redis', 'status-api', 'worker-1', 'worker-2', 'gateway-1', 'gateway-2'];
/** Host ports the compose file publishes for that subset (gateway-1's WebSocket port first). */
const COMPOSE_PORTS = { gateway1: 8001, gateway1Admin: 9101, gateway2Admin: 9102, status: 8090 } as const;
const COMPOSE_HOST_PORTS = [8001, 8002, 9101, 9102, 9201, 9202, 8090];
/** The `cluster` profile's services, named (podman-compose 1.0.3 has no `--profile`). */
const CLUSTER_SUBSET = [
  ...['redis-node-1', 'redis-node-2', 'redis-node-3', 'redis-cluster-init', 'cluster-status-api'],
  ...['cluster-worker-1', 'cluster-worker-2', 'cluster-gateway-1', 'cluster-gateway-2'],
];
/** Host ports the cluster profile publishes: gateways 8101/8102, their admin 9111/9112, workers' 9211/9212. */
const CLUSTER_PORTS = { gateway1: 8101, ready: [9111, 9112, 9211, 9212, 8190] } as const;

const run = `${process.pid}-${Date.now().toString(36)}`;
const project = `rtv-images-${run}`;
const singleNetwork = `rtv-images-single-${run}`;

let tag = '';
let baseImage = '';
const image = (target: string) => `realtime-voice-${target}:${tag}`;

/** `npm run images`, timed; its last lines name the base, tag and every image with its size. */
async function buildImages(args: string[] = []): Promise<{ seconds: number; output: string }> {
  const started = Date.now();
  const res = await runCommand('npm', ['run', 'images', ...(args.length > 0 ? ['--', ...args] : [])]);
  const output = printed(res);
  if (res.status !== 0) throw new Error(`npm run images exited ${res.status}:\n${output.slice(-4000)}`);
  return { seconds: (Date.now() - started) / 1000, output };
}

/** podman build steps (RUN, COPY) that did not come from the layer cache, from a build's output. */
function stepsBuiltAgain(output: string): string[] {
  const lines = output.split('\n');
  const rebuilt: string[] = [];
  lines.forEach((line, i) => {
    if (!/STEP \d+\/\d+: (RUN|COPY) /.test(line)) return;
    const result = lines.slice(i + 1).find((next) => next.startsWith('-->'));
    if (!result?.includes('Using cache')) rebuilt.push(line);
  });
  return rebuilt;
}

async function readyz(url: string, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs, intervalMs: 500, message: `${url} answered 200` },
  );
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });

/** The spec's Python example against a gateway (as tests/e2e/seed-python.int.test.ts runs it). */
async function runSeedExample(wsBase: string): Promise<string[]> {
  const source = readFileSync(path.join(REPO_ROOT, 'tests/e2e/fixtures/seed_example.py'), 'utf8');
  expect(source).toContain('ws://localhost:8000/api/v1/streaming/realtime/test_user');
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'rtv-images-seed-')), 'seed_example.py');
  writeFileSync(script, source.replace('ws://localhost:8000', wsBase));
  const child = spawn('/usr/bin/python3', ['-u', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  try {
    await waitFor(() => out.includes("'type': 'response.done'"), {
      timeoutMs: 30_000,
      message: `the Python client printed response.done (output so far: ${out.slice(-500)})`,
    });
  } finally {
    child.kill('SIGKILL');
  }
  return [...out.matchAll(/^Received: \{'type': '([a-z_.]+)'/gm)].map((m) => m[1]!);
}

describe.skipIf(!engine)('images built and run here', () => {
  const containerEngine = engine!;
  // podman-compose with podman; with docker its compose plugin, else the standalone docker-compose (Debian's
  // docker.io has no plugin). podman-compose and docker-compose join container names with underscores.
  const composeCommand: [string, ...string[]] =
    containerEngine.name === 'podman'
      ? ['podman-compose']
      : spawnSync('docker', ['compose', 'version']).status === 0
        ? ['docker', 'compose']
        : ['docker-compose'];
  const compose = (args: string[]) =>
    runCommand(
      composeCommand[0],
      [
        ...composeCommand.slice(1),
        '-p',
        project,
        '-f',
        'docker-compose.yml',
        '-f',
        'deploy/images/compose.local.yml',
        ...args,
      ],
      // Echo engine: audio frames come back numbered, which is how the failover check follows a session.
      { env: { ...process.env, RTV_IMAGE_TAG: tag, RTV_ENGINE_MODE: 'echo' } },
    );
  /** The cluster profile's switch: podman-compose 1.0.3 has none (the services are named), the others need it. */
  const clusterProfile = composeCommand[0] === 'podman-compose' ? [] : ['--profile', 'cluster'];
  /** Compose's container of a service: the compose plugin joins the names with dashes, the others underscores. */
  const containerOf = (service: string) =>
    composeCommand[1] === 'compose' ? `${project}-${service}-1` : `${project}_${service}_1`;
  const singles: string[] = [];
  let unlock: (() => void) | undefined;

  beforeAll(async () => {
    // Two runs of this file on one machine take turns: both would publish the compose file's fixed host ports.
    unlock = await machineLock('rtv-images-test', 1_200_000);
    if (containerEngine.name === 'podman' && spawnSync('podman-compose', ['version']).status !== 0) {
      throw new Error('podman-compose is missing (apt-get install podman-compose; .ci/run installs it)');
    }
    const first = await buildImages();
    tag = /, tag (\S+)$/m.exec(first.output)?.[1] ?? '';
    baseImage = /^images: engine \w+, base (\S+),/m.exec(first.output)?.[1] ?? '';
    expect(tag).toMatch(/^\d+\.\d+\.\d+/);
    // Nothing changed since: every image is judged up to date without a build ...
    const again = await buildImages();
    const outcomes = [...again.output.matchAll(/^images: (realtime-voice-\S+)\s+(\d+) MB\s+(.*)$/gm)];
    expect(outcomes.map((m) => `${m[1]} ${m[3]}`)).toEqual(
      ['gateway', 'session-worker', 'status-api', 'demo-web', 'client'].map((t) => `${image(t)} up to date`),
    );
    // ... and an image built again anyway comes wholly from the engine's layer cache.
    const rebuilt = await buildImages(['--only', 'client', '--rebuild']);
    if (containerEngine.name === 'podman') expect(stepsBuiltAgain(rebuilt.output)).toEqual([]);
    console.log(
      `images: npm run images ${first.seconds.toFixed(0)} s, again ${again.seconds.toFixed(0)} s (up to date), ` +
        `client rebuilt from the layer cache ${rebuilt.seconds.toFixed(0)} s; base ${baseImage}; ` +
        outcomes.map((m) => `${m[1]} ${m[2]} MB`).join(', '),
    );
    // Redis for the containers: Debian's redis-server on the same base (no public redis image to pull).
    await containerEngine.ok([
      'build',
      '--network=host',
      ...(containerEngine.name === 'podman' ? ['--format', 'docker'] : []),
      '--build-arg',
      `BASE_IMAGE=${baseImage}`,
      '-f',
      'deploy/images/redis.Containerfile',
      '-t',
      REDIS_IMAGE,
      'deploy/images',
    ]);
  }, 2_400_000);

  afterAll(async () => {
    await containerEngine.remove(singles, [singleNetwork]);
    await compose([...clusterProfile, 'down', '-t', '2']);
    await containerEngine.remove([], [`${project}_default`]);
    unlock?.();
  }, 120_000);

  it('runs every service image as uid 1000 on a read-only root fs, answering /readyz', async () => {
    await containerEngine.ok(['network', 'create', singleNetwork]);
    const redis = `rtv-img-redis-${run}`;
    singles.push(redis);
    await containerEngine.ok([
      'run',
      '-d',
      '--name',
      redis,
      '--network',
      singleNetwork,
      '--network-alias',
      'redis',
      REDIS_IMAGE,
    ]);
    const started = await Promise.all(
      SERVICE_IMAGES.map(async ({ target, port, env }) => {
        const name = `rtv-img-${target}-${run}`;
        singles.push(name);
        const envArgs = Object.entries({
          ...env,
          REDIS_URL: 'redis://redis:6379',
          RTV_REDIS_PREFIX: `img${run}`,
        }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
        await containerEngine.ok([
          'run',
          '-d',
          '--name',
          name,
          '--network',
          singleNetwork,
          // No tmpfs either: nothing in the services writes to the file system.
          '--read-only',
          '--cap-drop',
          'ALL',
          '--security-opt',
          'no-new-privileges',
          ...envArgs,
          image(target),
        ]);
        return { target, port, name };
      }),
    );
    for (const { target, port, name } of started) {
      const address = await containerEngine.address(name, singleNetwork);
      await readyz(`http://${address}:${port}/readyz`).catch(async (err) => {
        throw new Error(
          `${target}: ${err.message}\n${printed(await containerEngine.run(['logs', '--tail', '30', name]))}`,
        );
      });
      if (target === 'demo-web') {
        // The page is bundled at start from the sources the image keeps: the bundle is served.
        const app = await fetch(`http://${address}:${port}/app.js`);
        expect(app.status).toBe(200);
        expect(app.headers.get('content-type')).toContain('javascript');
        expect((await app.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
      }
      expect(await containerEngine.ok(['exec', name, 'id', '-u']), target).toBe('1000');
      expect(
        await containerEngine.ok(['image', 'inspect', '--format', '{{.Config.User}}', image(target)]),
        target,
      ).toBe('1000:1000');
      const write = await containerEngine.run(['exec', name, 'sh', '-c', 'touch /app/probe || touch /probe']);
      expect(write.status, target).not.toBe(0);
      expect(write.stderr, target).toMatch(/Read-only file system/);
      // Docker-format images keep HEALTHCHECK (an OCI image drops it): compose waits on it.
      const healthcheck =
        containerEngine.name === 'podman' ? '{{json .HealthCheck}}' : '{{json .Config.Healthcheck}}';
      expect(
        await containerEngine.ok(['image', 'inspect', '--format', healthcheck, image(target)]),
        target,
      ).toContain('/readyz');
    }
    const help = await containerEngine.run(['run', '--rm', '--read-only', image('client'), '--help']);
    expect(help.status, printed(help)).toBe(0);
    expect(help.stdout).toContain('--url <ws-url>');
  }, 180_000);

  it("gives the worker image ws's native masking (bufferutil), for every frame it sends to the provider", async () => {
    // A WebSocket client masks every frame it sends; without bufferutil, ws masks in JavaScript, about 5 µs for
    // one 20 ms audio frame against 0.3 µs natively. The image must load it the way ws does, from ws's folder.
    const script = [
      "const path = require('node:path');",
      "const from = path.dirname(require.resolve('ws'));",
      "const util = require(require.resolve('bufferutil', { paths: [from] }));",
      "console.log(/native code/.test(String(util.mask)) ? 'native' : 'javascript');",
    ].join(' ');
    const loaded = await containerEngine.ok([
      ...['run', '--rm', '--read-only', '--user', '1000', '--entrypoint', 'node'],
      ...[image('session-worker'), '-e', script],
    ]);
    expect(loaded).toBe('native');
  });

  it('brings up the compose subset on those images; the Python example and the client image talk to it', async () => {
    for (const port of COMPOSE_HOST_PORTS) {
      expect(await portIsFree(port), `host port ${port} (published by docker-compose.yml) is taken`).toBe(
        true,
      );
    }
    const up = await compose(['up', '-d', '--no-build', ...COMPOSE_SUBSET]);
    expect(up.status, printed(up)).toBe(0);
    for (const port of [
      COMPOSE_PORTS.status,
      COMPOSE_PORTS.gateway1Admin,
      COMPOSE_PORTS.gateway2Admin,
      9201,
      9202,
    ]) {
      await readyz(`http://127.0.0.1:${port}/readyz`);
    }
    const types = await runSeedExample(`ws://127.0.0.1:${COMPOSE_PORTS.gateway1}`);
    expect(types[0]).toBe('session.created');
    expect(types).toContain('session.update');
    expect(types).toContain('response.done');
    expect(types).not.toContain('error');
    // The client image on the stack's network, as a `helm test` Pod would run it: flags as arguments.
    const client = await containerEngine.run([
      'run',
      '--rm',
      '--read-only',
      '--network',
      `${project}_default`,
      image('client'),
      '--url',
      'ws://gateway-2:8000/api/v1/streaming/realtime/images_client',
      '--text',
      'Hello from the client image',
    ]);
    expect(client.status, printed(client)).toBe(0);
    // Its summary line of the finished reply.
    expect(client.stdout).toContain('✓ done');
  }, 180_000);

  it('stopping the worker that owns a live session: the session goes on on the other worker', async () => {
    const ws = await WsTestClient.connect(
      `ws://127.0.0.1:${COMPOSE_PORTS.gateway1}/api/v1/streaming/realtime/images_failover`,
    );
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    // RTV_REDIS_PREFIX of the compose stack (x-common-env).
    const key = createKeys('rtv').session(created.session.id);
    const redis = containerOf('redis');
    const ownerOf = async () =>
      (await containerEngine.ok(['exec', redis, 'redis-cli', 'HGET', key, 'owner'])) || undefined;
    const owner = await waitFor(ownerOf, { message: 'session bound to a worker', timeoutMs: 20_000 });
    expect(['worker-1', 'worker-2']).toContain(owner);

    // 20 ms frames in real time; after one second the owner is stopped (SIGTERM, drain, hand-over) while
    // frames keep going, until 50 more have gone after its container exited.
    const echoed = () =>
      ws
        .all()
        .filter((m) => (m as { type: string }).type === 'response.audio')
        .map((m) => tagOf((m as { response: { audio: string } }).response.audio)[1]);
    let stopped: Promise<unknown> | undefined;
    let stoppedAt: number | undefined;
    let n = 0;
    while (n < 3_000 && (stoppedAt === undefined || n < stoppedAt + 50)) {
      n++;
      ws.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_audio_buffer', audio: numberedFrame(0, n) },
      });
      if (n === 50) {
        const sent = n;
        stopped = containerEngine.ok(['stop', '-t', '40', containerOf(owner)]).then(() => {
          stoppedAt = Math.max(sent, n);
        });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await stopped;
    await waitFor(() => echoed().includes(n), { timeoutMs: 20_000, message: `frame ${n} echoed` });
    const after = echoed().filter((frame) => frame > stoppedAt!);
    console.log(
      `failover: ${owner} stopped after frame 50, exited by frame ${stoppedAt}; ${after.length} frames echoed after that; new owner ${await ownerOf()}`,
    );
    expect(after.length).toBeGreaterThanOrEqual(50);
    // Nothing lost on the way: every frame sent came back at least once (the new owner may repeat a few).
    const missing = Array.from({ length: n }, (_, i) => i + 1).filter((frame) => !echoed().includes(frame));
    expect(missing).toEqual([]);
    const newOwner = await ownerOf();
    expect(newOwner).toBeDefined();
    expect(newOwner).not.toBe(owner);
    expect(await containerEngine.inspect(containerOf(owner), '{{.State.Running}}')).toBe('false');
    // The socket stayed open throughout.
    expect(
      await Promise.race([
        ws.closed.then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('open'), 200)),
      ]),
    ).toBe('open');
    await ws.close();
  }, 180_000);

  it('brings up the cluster profile on those images: a 3-master Redis Cluster, and the Python example through it', async () => {
    for (const port of [CLUSTER_PORTS.gateway1, 8102, ...CLUSTER_PORTS.ready]) {
      expect(await portIsFree(port), `host port ${port} (cluster profile) is taken`).toBe(true);
    }
    const up = await compose([...clusterProfile, 'up', '-d', '--no-build', ...CLUSTER_SUBSET]);
    expect(up.status, printed(up)).toBe(0);
    // Workers and gateways that start before redis-cluster-init has made the cluster exit and are restarted by
    // their restart policy (podman-compose does not wait for service_completed_successfully); all end up ready.
    for (const port of CLUSTER_PORTS.ready) await readyz(`http://127.0.0.1:${port}/readyz`, 120_000);
    const info = await containerEngine.ok([
      'exec',
      containerOf('redis-node-1'),
      'redis-cli',
      'CLUSTER',
      'INFO',
    ]);
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_size:3');
    const types = await runSeedExample(`ws://127.0.0.1:${CLUSTER_PORTS.gateway1}`);
    expect(types[0]).toBe('session.created');
    expect(types).toContain('session.update');
    expect(types).toContain('response.done');
    expect(types).not.toContain('error');
  }, 240_000);
});
