// vitest globalSetup: decides once per run which Redis every suite uses and exports it as REDIS_URL
// (forked test workers inherit the environment), with a random RTV_TEST_RUN_ID for key prefixes.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pingRedis, redactRedisUrl, resolveRedis } from './redis.mjs';

type Teardown = () => Promise<void>;

/** Sockets a Docker engine commonly listens on when DOCKER_HOST is unset (Linux, rootless, Desktop). */
function defaultDockerSockets(): string[] {
  const uid = process.getuid?.();
  return [
    '/var/run/docker.sock',
    uid === undefined ? '' : `/run/user/${uid}/docker.sock`,
    path.join(os.homedir(), '.docker', 'run', 'docker.sock'),
  ].filter((p) => p && existsSync(p));
}

/** GET /_ping on a unix socket; resolves true only when an engine answers OK quickly. */
function pingDockerSocket(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A quick yes/no on "is there a Docker engine", so machines without one pay ~nothing for the check. */
async function dockerAvailable(): Promise<boolean> {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: Docker's own variable; only chooses where Redis runs
  const host = process.env.DOCKER_HOST;
  if (host) {
    const url = new URL(host);
    if (url.protocol === 'unix:') return pingDockerSocket(url.pathname, 500);
    if (url.protocol === 'tcp:') return canConnect(url.hostname, Number(url.port || 2375), 500);
    return false;
  }
  for (const socket of defaultDockerSockets()) {
    if (await pingDockerSocket(socket, 500)) return true;
  }
  return false;
}

async function startContainer(): Promise<{ url: string; stop: Teardown }> {
  // Loaded only when an engine exists: testcontainers is heavy and useless without one.
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return {
    url,
    stop: async () => {
      await container.stop();
    },
  };
}

/** The local Redis, or a redis-server started for the run; `why` says why no container is used. */
async function hostRedis(why: string): Promise<{ url: string; stop: Teardown; line: string }> {
  const redis = await resolveRedis();
  const line =
    redis.source === 'local'
      ? `tests: ${why}, using local Redis at ${redis.url}`
      : `tests: ${why} and nothing on 127.0.0.1:6379, started redis-server at ${redis.url}`;
  return { url: redis.url, stop: redis.stop, line };
}

export default async function setup(): Promise<Teardown> {
  process.env.RTV_TEST_RUN_ID ??= randomBytes(4).toString('hex');
  let url: string;
  let stop: Teardown = async () => {};
  let line: string;

  const fromEnv = process.env.REDIS_URL?.trim();
  if (fromEnv) {
    await pingRedis(fromEnv, 2000).catch((err: Error) => {
      throw new Error(`tests: REDIS_URL=${redactRedisUrl(fromEnv)} does not answer PING (${err.message})`);
    });
    url = fromEnv;
    line = `tests: REDIS_URL is set, using Redis at ${redactRedisUrl(url)}`;
  } else if (await dockerAvailable()) {
    try {
      ({ url, stop } = await startContainer());
      line = `tests: Docker engine found, using a redis:7-alpine container at ${url}`;
    } catch (err) {
      // An engine that cannot pull (no registry, a proxy) or run the image: the tests still need only a Redis.
      const why = String((err as Error).message)
        .split('\n')[0]!
        .slice(0, 200);
      ({ url, stop, line } = await hostRedis(`the Docker engine could not start redis:7-alpine (${why})`));
    }
  } else {
    ({ url, stop, line } = await hostRedis('no Docker engine'));
  }
  process.env.REDIS_URL = url;
  console.log(line);
  return stop;
}
