// Redis as the deployments run it: over TLS with a private CA (rediss:// and RTV_REDIS_TLS_CA_FILE), and with
// a required password (REDIS_PASSWORD). Real redis-server processes, certificates from the real openssl, the
// project's connection factory, and real gateway and worker processes on top.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RedisClient } from '@rtv/bus';
import {
  createRedis,
  type RedisCredentials,
  RedisSettingsError,
  redisCredentialsFromEnv,
  waitReady,
} from '@rtv/bus';
import { freePort, runServiceToExit, type SpawnedService, spawnService, WsTestClient } from '@rtv/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { find, podTemplate, render } from './support/helm.js';
import {
  makeCertificates,
  startRedisServer,
  type TestCertificates,
  type TestRedisServer,
} from './support/redis-servers.js';

const PASSWORD = 'redis-password-that-must-never-be-printed';

/** Runs a service entry until it exits (or 20 s), with `env` added and quiet logs. */
function runToExit(entry: string, env: Record<string, string>) {
  return runServiceToExit(entry, { RTV_LOG_LEVEL: 'warn', ...env });
}

async function startGateway(env: Record<string, string>): Promise<SpawnedService> {
  const [port, admin] = await Promise.all([freePort(), freePort()]);
  return spawnService(
    'services/gateway/src/main.ts',
    { RTV_LOG_LEVEL: 'warn', RTV_GATEWAY_PORT: String(port), RTV_GATEWAY_ADMIN_PORT: String(admin), ...env },
    { readyUrl: `http://127.0.0.1:${admin}/readyz`, timeoutMs: 30_000 },
  );
}

const clients: RedisClient[] = [];
function connect(url: string, credentials: RedisCredentials): RedisClient {
  const client = createRedis(url, { name: 'redis-security-test', role: 'producer', credentials });
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

describe('Redis over TLS with a private CA', () => {
  let certs: TestCertificates;
  let server: TestRedisServer;
  const services: SpawnedService[] = [];

  beforeAll(async () => {
    certs = makeCertificates();
    server = await startRedisServer(
      [
        '--tls-cert-file',
        certs.certFile,
        '--tls-key-file',
        certs.keyFile,
        '--tls-ca-cert-file',
        certs.caFile,
        '--tls-auth-clients',
        'no',
      ],
      { tls: true, access: { ca: readFileSync(certs.caFile, 'utf8') } },
    );
  }, 30_000);
  afterAll(async () => {
    for (const s of services.reverse()) await s.stop('SIGKILL');
    await server?.stop();
    certs?.remove();
  });

  it('connects through the factory with rediss:// and the CA from RTV_REDIS_TLS_CA_FILE', async () => {
    expect(server.url).toMatch(/^rediss:\/\//);
    const credentials = redisCredentialsFromEnv({ RTV_REDIS_TLS_CA_FILE: certs.caFile });
    const client = connect(server.url, credentials);
    await waitReady(client);
    expect(await client.ping()).toBe('PONG');
  });

  it('refuses the server certificate without the CA, or with another CA', async () => {
    const publicRoots = connect(server.url, {});
    await expect(waitReady(publicRoots, 1500)).rejects.toThrow(/last error: .*certificate/i);
    const otherCa = connect(
      server.url,
      redisCredentialsFromEnv({ RTV_REDIS_TLS_CA_FILE: certs.otherCaFile }),
    );
    await expect(waitReady(otherCa, 1500)).rejects.toThrow(/last error: .*certificate/i);
  });

  it('never gets an answer from plain redis:// to the TLS port', async () => {
    const plain = connect(server.url.replace(/^rediss:/, 'redis:'), {});
    await expect(waitReady(plain, 1500)).rejects.toThrow('Redis not ready after 1500 ms');
    expect(plain.status).not.toBe('ready');
  });

  it('refuses a CA with a redis:// URL, and a CA file it cannot read, by name', () => {
    const credentials = redisCredentialsFromEnv({ RTV_REDIS_TLS_CA_FILE: certs.caFile });
    expect(() => createRedis(server.url.replace(/^rediss:/, 'redis:'), { name: 'x', credentials })).toThrow(
      RedisSettingsError,
    );
    expect(() => createRedis(server.url.replace(/^rediss:/, 'redis:'), { name: 'x', credentials })).toThrow(
      `RTV_REDIS_TLS_CA_FILE=${certs.caFile} is set but REDIS_URL is not rediss://`,
    );
    expect(() => redisCredentialsFromEnv({ RTV_REDIS_TLS_CA_FILE: `${certs.dir}/missing.crt` })).toThrow(
      `RTV_REDIS_TLS_CA_FILE=${certs.dir}/missing.crt: cannot read it (ENOENT)`,
    );
    expect(() => redisCredentialsFromEnv({ RTV_REDIS_TLS_CA_FILE: certs.keyFile })).toThrow(
      'no PEM certificate',
    );
  });

  it('runs a gateway and a worker on it: both ready, and a conversation crosses the TLS bus', async () => {
    const tlsEnv = { REDIS_URL: server.url, RTV_REDIS_TLS_CA_FILE: certs.caFile, RTV_REDIS_PREFIX: 'rtvtls' };
    const workerAdmin = await freePort();
    services.push(
      await spawnService(
        'services/session-worker/src/main.ts',
        { ...tlsEnv, RTV_LOG_LEVEL: 'warn', OPENAI_API_KEY: '', RTV_WORKER_ADMIN_PORT: String(workerAdmin) },
        { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`, timeoutMs: 30_000 },
      ),
    );
    const [port, admin] = await Promise.all([freePort(), freePort()]);
    services.push(
      await spawnService(
        'services/gateway/src/main.ts',
        {
          ...tlsEnv,
          RTV_LOG_LEVEL: 'warn',
          RTV_GATEWAY_PORT: String(port),
          RTV_GATEWAY_ADMIN_PORT: String(admin),
        },
        { readyUrl: `http://127.0.0.1:${admin}/readyz`, timeoutMs: 30_000 },
      ),
    );
    const ws = await WsTestClient.connect(`ws://127.0.0.1:${port}/api/v1/streaming/realtime/tls_user`);
    await ws.nextOfType('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Hello over TLS' },
    });
    await ws.nextOfType('response.done', 30_000);
    await ws.close();
  }, 90_000);

  it('stops a gateway whose REDIS_URL is redis:// while RTV_REDIS_TLS_CA_FILE is set, saying why', async () => {
    const { code, output } = await runToExit('services/gateway/src/main.ts', {
      REDIS_URL: server.url.replace(/^rediss:/, 'redis:'),
      RTV_REDIS_TLS_CA_FILE: certs.caFile,
      RTV_GATEWAY_PORT: String(await freePort()),
      RTV_GATEWAY_ADMIN_PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(output).toContain('gateway failed to start: RTV_REDIS_TLS_CA_FILE=');
    expect(output).toContain('is set but REDIS_URL is not rediss://');
    const missing = await runToExit('services/gateway/src/main.ts', {
      REDIS_URL: server.url,
      RTV_REDIS_TLS_CA_FILE: `${certs.dir}/gone.crt`,
      RTV_GATEWAY_PORT: String(await freePort()),
      RTV_GATEWAY_ADMIN_PORT: String(await freePort()),
    });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain(
      `gateway failed to start: RTV_REDIS_TLS_CA_FILE=${certs.dir}/gone.crt: cannot read it (ENOENT)`,
    );
  }, 30_000);
});

describe('Redis with a required password', () => {
  let server: TestRedisServer;
  const services: SpawnedService[] = [];

  beforeAll(async () => {
    server = await startRedisServer(['--requirepass', PASSWORD], { access: { password: PASSWORD } });
  }, 30_000);
  afterAll(async () => {
    for (const s of services.reverse()) await s.stop('SIGKILL');
    await server?.stop();
  });

  it('refuses a client without the password: no reading the resume secret, no injected bus line', async () => {
    const intruder = connect(server.url, {});
    await expect(intruder.get('rtv:resume-secret')).rejects.toThrow(/NOAUTH/);
    await expect(intruder.xadd('rtv:gw:victim:out', '*', 'l', 'B sid wk 9')).rejects.toThrow(/NOAUTH/);
    const guesser = connect(server.url, { password: 'not-the-password' });
    await expect(waitReady(guesser, 1500)).rejects.toThrow(/WRONGPASS/);
  });

  it("lets redis-cli (the bundled Redis's probes) in through REDISCLI_AUTH, without an argument", () => {
    const cli = (env: Record<string, string>) =>
      spawnSync('redis-cli', ['-p', String(server.port), 'ping'], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
    expect(cli({ REDISCLI_AUTH: PASSWORD }).stdout.trim()).toBe('PONG');
    expect(cli({}).stdout).toContain('NOAUTH');
  });

  it('connects through the factory with REDIS_PASSWORD, and refuses it twice', async () => {
    const client = connect(server.url, redisCredentialsFromEnv({ REDIS_PASSWORD: PASSWORD }));
    await waitReady(client);
    expect(await client.ping()).toBe('PONG');
    // An ACL-style URL naming the user, with the password apart.
    const named = connect(server.url.replace('redis://', 'redis://default@'), { password: PASSWORD });
    await waitReady(named);
    expect(await named.ping()).toBe('PONG');
    const twice = () =>
      createRedis(server.url.replace('redis://', `redis://:${PASSWORD}@`), {
        name: 'x',
        credentials: { password: PASSWORD },
      });
    expect(twice).toThrow('REDIS_PASSWORD is set and REDIS_URL carries a password too');
    try {
      twice();
    } catch (err) {
      expect((err as Error).message).not.toContain(PASSWORD);
    }
  });

  it('starts a gateway with REDIS_PASSWORD: ready', async () => {
    const gateway = await startGateway({ REDIS_URL: server.url, REDIS_PASSWORD: PASSWORD });
    services.push(gateway);
    expect(gateway.output()).not.toContain(PASSWORD);
  }, 40_000);

  it('stops a gateway without the password or with a wrong one, saying why, never printing a password', async () => {
    const missing = await runToExit('services/gateway/src/main.ts', {
      REDIS_URL: server.url,
      RTV_GATEWAY_PORT: String(await freePort()),
      RTV_GATEWAY_ADMIN_PORT: String(await freePort()),
    });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('gateway failed to start: Redis not ready after');
    expect(missing.output).toContain('NOAUTH');
    const wrong = await runToExit('services/gateway/src/main.ts', {
      REDIS_URL: server.url,
      REDIS_PASSWORD: 'a-wrong-password-also-never-printed',
      RTV_GATEWAY_PORT: String(await freePort()),
      RTV_GATEWAY_ADMIN_PORT: String(await freePort()),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.output).toContain('WRONGPASS');
    expect(wrong.output).not.toContain('a-wrong-password-also-never-printed');
    expect(missing.output + wrong.output).not.toContain(PASSWORD);
  }, 40_000);

  it('refuses an RTV_RESUME_SECRET shorter than 32 characters at start, by name only', async () => {
    const short = 'only-twenty-nine-characters-x';
    const { code, output } = await runToExit('services/gateway/src/main.ts', {
      REDIS_URL: server.url,
      REDIS_PASSWORD: PASSWORD,
      RTV_RESUME_SECRET: short,
    });
    expect(code).toBe(2);
    expect(output).toContain('RTV_RESUME_SECRET=<redacted>: must be at least 32 characters');
    expect(output).not.toContain(short);
  }, 30_000);
});

describe("the bundled Redis's ACL, as the chart starts it", () => {
  let server: TestRedisServer;
  const services: SpawnedService[] = [];

  /** The chart's redis-server arguments for access control, with the password the kubelet would fill in. */
  function chartAclArgs(): string[] {
    const redis = podTemplate(find(render(), 'StatefulSet', '-redis')).spec.containers[0] as unknown as {
      args: string[];
    };
    const first = redis.args.indexOf('--user');
    expect(first).toBeGreaterThan(0);
    return redis.args.slice(first).map((arg) => arg.replace('$(REDIS_PASSWORD)', PASSWORD));
  }

  beforeAll(async () => {
    server = await startRedisServer(chartAclArgs(), {
      access: { user: 'rtv', password: PASSWORD },
    });
  }, 60_000);
  afterAll(async () => {
    for (const s of services.reverse()) await s.stop('SIGKILL');
    await server?.stop();
  });

  it('refuses the default user, other keys and admin or dangerous commands to the services user', async () => {
    const anonymous = connect(server.url, {});
    await expect(anonymous.get('rtv:resume-secret')).rejects.toThrow(/NOAUTH/);
    const asDefault = connect(server.url.replace('redis://', 'redis://default@'), { password: PASSWORD });
    await expect(waitReady(asDefault, 1500)).rejects.toThrow(/WRONGPASS/);
    const services = connect(server.url.replace('redis://', 'redis://rtv@'), { password: PASSWORD });
    await waitReady(services);
    expect(await services.set('rtv:probe', '1')).toBe('OK');
    await expect(services.get('other-app:secret')).rejects.toThrow(/NOPERM/);
    await expect(services.config('SET', 'maxmemory-policy', 'allkeys-lru')).rejects.toThrow(/NOPERM/);
    await expect(services.flushall()).rejects.toThrow(/NOPERM/);
    await expect(services.keys('*')).rejects.toThrow(/NOPERM/);
  });

  it('runs the status API, a worker and a gateway as that user: a conversation, the status, a resume', async () => {
    const env = { REDIS_URL: server.url.replace('redis://', 'redis://rtv@'), REDIS_PASSWORD: PASSWORD };
    const [statusPort, workerAdmin, port, admin] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    services.push(
      await spawnService(
        'services/status-api/src/main.ts',
        { ...env, RTV_LOG_LEVEL: 'warn', RTV_STATUS_PORT: String(statusPort) },
        { readyUrl: `http://127.0.0.1:${statusPort}/readyz`, timeoutMs: 30_000 },
      ),
      await spawnService(
        'services/session-worker/src/main.ts',
        { ...env, RTV_LOG_LEVEL: 'warn', OPENAI_API_KEY: '', RTV_WORKER_ADMIN_PORT: String(workerAdmin) },
        { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`, timeoutMs: 30_000 },
      ),
      await spawnService(
        'services/gateway/src/main.ts',
        {
          ...env,
          RTV_LOG_LEVEL: 'warn',
          RTV_GATEWAY_PORT: String(port),
          RTV_GATEWAY_ADMIN_PORT: String(admin),
          RTV_STATUS_URL: `http://127.0.0.1:${statusPort}`,
        },
        { readyUrl: `http://127.0.0.1:${admin}/readyz`, timeoutMs: 30_000 },
      ),
    );
    const url = `ws://127.0.0.1:${port}/api/v1/streaming/realtime/acl_user`;
    const ws = await WsTestClient.connect(url);
    const created = await ws.nextOfType<{ session: { id: string; resume_token: string } }>('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Hello through the ACL' },
    });
    await ws.nextOfType('response.done', 30_000);
    const status = await fetch(`http://127.0.0.1:${statusPort}/api/v1/streaming/realtime/status`);
    expect(status.status).toBe(200);
    expect(((await status.json()) as { workers: unknown[] }).workers).toHaveLength(1);
    await ws.terminate();
    const back = await WsTestClient.connect(`${url}?resume=${created.session.id}`, {
      protocols: ['rtv.v1', `rtv.resume.${created.session.resume_token}`],
    });
    expect((await back.nextOfType<{ session: { id: string } }>('session.created')).session.id).toBe(
      created.session.id,
    );
    await back.close();
    for (const service of services) expect(service.output()).not.toMatch(/NOPERM|NOAUTH/);
  }, 120_000);
});
