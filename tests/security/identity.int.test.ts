// Who a caller is, at running service processes: anonymous callers act as anon:<path user> and cannot take
// a verified user's connection slots or history; credentials cannot claim the anon: namespace; API keys
// carry scopes (sessions:connect to open sessions, history:read to read anyone's history); and a gateway
// configured for production serves neither the anonymous route nor foreign browser origins by default.
// Every service is a real process (gateway, worker, status API) on the real Redis, reached through real
// sockets and HTTP.
import { generateApiKey } from '@rtv/auth';
import {
  createTestRedis,
  freePort,
  rawUpgrade,
  type SpawnedService,
  spawnService,
  type TestRedis,
  WsTestClient,
  waitFor,
} from '@rtv/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const JWT_SECRET = 'identity-test-secret-of-at-least-32-bytes';
/** Connect-only: an entry without scopes, as every key was configured before scopes existed. */
const CONNECT_KEY = generateApiKey();
/** An operator's key for history only. */
const READER_KEY = generateApiKey();
const BOTH_KEY = generateApiKey();
const API_KEYS = [
  `svc:${CONNECT_KEY.hash}`,
  `reader:${READER_KEY.hash}:history:read`,
  `both:${BOTH_KEY.hash}:sessions:connect+history:read`,
].join(',');

const jwtFor = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(JWT_SECRET));

type Created = { session: { id: string; user_id: string } };
type History = { session: { id: string; user_id: string }; history: Array<{ role: string; text: string }> };

/** One gateway process and its ports. */
interface GatewayProcess {
  service: SpawnedService;
  port: number;
  admin: number;
}

const REALTIME = '/api/v1/streaming/realtime';

/** A raw upgrade request, to read a refusal's status and body (WebSocket clients hide the body). */
function upgradeRequest(port: number, path: string, headers: Record<string, string> = {}) {
  return rawUpgrade(port, { path, headers });
}

/** The value of `rtv_gateway_upgrades_rejected_total{reason}` on a gateway's admin port (0 when absent). */
async function rejections(gateway: GatewayProcess, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.admin}/metrics`)).text();
  const line = new RegExp(
    `^rtv_gateway_upgrades_rejected_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`,
    'm',
  );
  return Number(line.exec(text)?.[1] ?? 0);
}

const FORBIDDEN_BODY = { error: { code: 'forbidden', message: 'forbidden' } };

describe('identity: the anon: namespace, API key scopes and production defaults', () => {
  let redis: TestRedis;
  const services: SpawnedService[] = [];
  let statusUrl: string;
  /** JWT secret and API keys, anonymous route explicitly on: the squatting attack's target. */
  let open: GatewayProcess;
  /** NODE_ENV=production and nothing else. */
  let production: GatewayProcess;
  /** NODE_ENV=production with RTV_ALLOW_ANONYMOUS=true. */
  let productionAnonymous: GatewayProcess;
  /** A JWT secret, not production, RTV_ALLOW_ANONYMOUS unset. */
  let withSecret: GatewayProcess;

  beforeAll(async () => {
    redis = await createTestRedis('identity');
    const statusPort = await freePort();
    const workerAdmin = await freePort();
    statusUrl = `http://127.0.0.1:${statusPort}`;
    // Whatever the test runner's shell holds, these decide the defaults under test.
    const common = {
      REDIS_URL: redis.url,
      RTV_REDIS_PREFIX: redis.prefix,
      RTV_LOG_LEVEL: 'info',
      OPENAI_API_KEY: '',
      NODE_ENV: 'test',
      RTV_ALLOW_ANONYMOUS: undefined,
      RTV_ALLOWED_ORIGINS: undefined,
      RTV_AUTH_JWT_SECRET: undefined,
      RTV_AUTH_API_KEYS: undefined,
      RTV_AUTH_JWKS_URL: undefined,
    };
    const startGateway = async (env: Record<string, string>): Promise<GatewayProcess> => {
      const [port, admin] = [await freePort(), await freePort()];
      const service = await spawnService(
        'services/gateway/src/main.ts',
        {
          ...common,
          RTV_GATEWAY_PORT: String(port),
          RTV_GATEWAY_ADMIN_PORT: String(admin),
          RTV_STATUS_URL: statusUrl,
          RTV_MAX_NEW_CONNECTIONS_PER_IP: '1000',
          ...env,
        },
        { readyUrl: `http://127.0.0.1:${admin}/readyz`, timeoutMs: 40_000 },
      );
      services.push(service);
      return { service, port, admin };
    };
    const [status, worker] = await Promise.all([
      spawnService(
        'services/status-api/src/main.ts',
        {
          ...common,
          RTV_STATUS_PORT: String(statusPort),
          RTV_AUTH_JWT_SECRET: JWT_SECRET,
          RTV_AUTH_API_KEYS: API_KEYS,
        },
        { readyUrl: `${statusUrl}/readyz`, timeoutMs: 40_000 },
      ),
      spawnService(
        'services/session-worker/src/main.ts',
        { ...common, RTV_WORKER_ADMIN_PORT: String(workerAdmin) },
        { readyUrl: `http://127.0.0.1:${workerAdmin}/readyz`, timeoutMs: 40_000 },
      ),
    ]);
    services.push(status, worker);
    [open, production, productionAnonymous, withSecret] = await Promise.all([
      startGateway({
        RTV_AUTH_JWT_SECRET: JWT_SECRET,
        RTV_AUTH_API_KEYS: API_KEYS,
        RTV_ALLOW_ANONYMOUS: 'true',
        RTV_MAX_CONNECTIONS_PER_USER: '10',
      }),
      startGateway({ NODE_ENV: 'production' }),
      startGateway({ NODE_ENV: 'production', RTV_ALLOW_ANONYMOUS: 'true' }),
      startGateway({ RTV_AUTH_JWT_SECRET: JWT_SECRET }),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop('SIGKILL');
    await redis?.cleanup();
  });

  const anonymousUrl = (g: GatewayProcess, user: string) => `ws://127.0.0.1:${g.port}${REALTIME}/${user}`;
  const authUrl = (g: GatewayProcess) => `ws://127.0.0.1:${g.port}${REALTIME}`;
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const readHistory = (sid: string, token?: string) =>
    fetch(
      `${statusUrl}${REALTIME}/sessions/${sid}`,
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
    );

  describe('slot squatting and history through the anon: namespace', () => {
    const squatters: WsTestClient[] = [];
    let alice: WsTestClient;
    let aliceSid: string;
    let squatterSid: string;
    afterAll(async () => {
      await Promise.all([...squatters, alice].filter(Boolean).map((ws) => ws.close()));
    });

    it('ten anonymous "alice" sockets do not take the slots of the real alice, who still connects', async () => {
      for (let i = 0; i < 10; i++) {
        const ws = await WsTestClient.connect(anonymousUrl(open, 'alice'));
        const created = await ws.nextOfType<Created>('session.created');
        expect(created.session.user_id).toBe('anon:alice');
        squatterSid = created.session.id;
        squatters.push(ws);
      }
      // The cap still holds within the anonymous namespace.
      const eleventh = await WsTestClient.connect(anonymousUrl(open, 'alice'));
      expect((await eleventh.closed).code).toBe(4429);

      alice = await WsTestClient.connect(authUrl(open), bearer(await jwtFor('alice')));
      const created = await alice.nextOfType<Created>('session.created');
      expect(created.session.user_id).toBe('alice');
      aliceSid = created.session.id;
      alice.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'Private note for alice' },
      });
      await alice.nextOfType('response.done', 20_000);
    });

    it('history: a connect-only key and another user get 404; history:read and the owner read it', async () => {
      expect(aliceSid).toBeDefined();
      const read = await waitFor(
        async () => {
          const res = await readHistory(aliceSid, READER_KEY.key);
          const body = (await res.json()) as History;
          return res.status === 200 && body.history.length === 2 ? body : undefined;
        },
        { timeoutMs: 10_000, message: 'the history:read key reads both items' },
      );
      expect(read.session.user_id).toBe('alice');
      expect(read.history[0]!.text).toBe('Private note for alice');

      const own = await readHistory(aliceSid, await jwtFor('alice'));
      expect(own.status).toBe(200);
      expect(((await own.json()) as History).history[0]!.text).toBe('Private note for alice');
      expect((await readHistory(aliceSid, BOTH_KEY.key)).status).toBe(200);

      // Refusals answer exactly like a session that does not exist, so ids cannot be probed.
      const missing = await readHistory(`sess_${'x'.repeat(21)}`, CONNECT_KEY.key);
      expect(missing.status).toBe(404);
      const missingBody = await missing.json();
      for (const token of [CONNECT_KEY.key, await jwtFor('bob')]) {
        const res = await readHistory(aliceSid, token);
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual(missingBody);
      }
    });

    it('an anonymous session belongs to anon:alice: the real alice does not read it, history:read does', async () => {
      expect(squatterSid).toBeDefined();
      expect((await readHistory(squatterSid, await jwtFor('alice'))).status).toBe(404);
      const res = await readHistory(squatterSid, READER_KEY.key);
      expect(res.status).toBe(200);
      expect(((await res.json()) as History).session.user_id).toBe('anon:alice');
    });

    it('a JWT whose subject is anon:alice is refused at the gateway (403) and the status API (401)', async () => {
      const token = await jwtFor('anon:alice');
      const res = await upgradeRequest(open.port, REALTIME, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual(FORBIDDEN_BODY);
      expect(await rejections(open, 'reserved_user_id')).toBeGreaterThanOrEqual(1);
      expect((await readHistory(squatterSid, token)).status).toBe(401);
    });
  });

  describe('API key scopes at the gateway', () => {
    it('refuses a key without sessions:connect at upgrade with 403, reason scope', async () => {
      const before = await rejections(open, 'scope');
      const res = await upgradeRequest(open.port, REALTIME, { authorization: `Bearer ${READER_KEY.key}` });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual(FORBIDDEN_BODY);
      expect(await rejections(open, 'scope')).toBe(before + 1);
    });

    it('connects an unscoped key (sessions:connect by default) and a key with both scopes as their ids', async () => {
      for (const [key, id] of [
        [CONNECT_KEY.key, 'svc'],
        [BOTH_KEY.key, 'both'],
      ] as const) {
        const ws = await WsTestClient.connect(authUrl(open), bearer(key));
        expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe(id);
        await ws.close();
      }
    });
  });

  describe('production-safe defaults', () => {
    it('NODE_ENV=production: the anonymous route is refused with 403, and the log says why', async () => {
      const res = await upgradeRequest(production.port, `${REALTIME}/alice`);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual(FORBIDDEN_BODY);
      expect(await rejections(production, 'anonymous_disabled')).toBe(1);
      const log = production.service.output();
      expect(log).toContain(
        'anonymous route off: NODE_ENV=production; set RTV_ALLOW_ANONYMOUS=true to allow it',
      );
      expect(log).toContain('browser origins refused: NODE_ENV=production and RTV_ALLOWED_ORIGINS is unset');
    });

    it('NODE_ENV=production with RTV_ALLOW_ANONYMOUS=true: anonymous callers connect, a foreign Origin does not', async () => {
      const evil = await upgradeRequest(productionAnonymous.port, `${REALTIME}/alice`, {
        origin: 'https://evil.example',
      });
      expect(evil.status).toBe(403);
      expect(await rejections(productionAnonymous, 'origin')).toBe(1);
      // Without Origin (a server or CLI) the same request is served.
      const ws = await WsTestClient.connect(anonymousUrl(productionAnonymous, 'alice'));
      expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('anon:alice');
      await ws.close();
      expect(productionAnonymous.service.output()).not.toContain('anonymous route off');
    });

    it('a JWT secret turns the anonymous route off (403) while signed-in users connect; origins stay open outside production', async () => {
      const res = await upgradeRequest(withSecret.port, `${REALTIME}/alice`);
      expect(res.status).toBe(403);
      expect(await rejections(withSecret, 'anonymous_disabled')).toBe(1);
      expect(withSecret.service.output()).toContain(
        'anonymous route off: a verifier is configured (RTV_AUTH_JWT_SECRET); set RTV_ALLOW_ANONYMOUS=true to allow it',
      );
      const ws = await WsTestClient.connect(authUrl(withSecret), {
        headers: { authorization: `Bearer ${await jwtFor('carol')}`, origin: 'https://evil.example' },
      });
      expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('carol');
      await ws.close();
    });

    it('the explicit RTV_ALLOW_ANONYMOUS=true keeps the route on beside a JWT secret and API keys', async () => {
      // `open` has both verifiers configured; the squatting test above used its anonymous route.
      const ws = await WsTestClient.connect(anonymousUrl(open, 'dave'));
      expect((await ws.nextOfType<Created>('session.created')).session.user_id).toBe('anon:dave');
      await ws.close();
    });
  });
});
