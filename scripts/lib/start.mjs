// `npm start`: Redis, then status-api, workers and gateway, each waited for, then a summary of where to go.
import { redactRedisUrl, resolveRedis } from '../redis.mjs';
import { confirmRedisForServices } from './redis-ready.mjs';
import { ExitedBeforeReadyError, intFromEnv, planServices, ServiceGroup } from './services.mjs';
import { ServiceSupervisor } from './supervisor.mjs';
import { fail, formatTag, paint, reserveTagWidth, say } from './ui.mjs';

/** How long a service gets to drain on Ctrl-C before it is killed (the gateway's grace period fits in it). */
const STOP_GRACE_MS = 15_000;

/**
 * @param {string} root
 * @returns {Promise<never>} Exits the process when the services stop.
 */
export async function startCommand(root) {
  const env = process.env;
  const plan = planServices(root, env);
  const readyTimeoutMs = intFromEnv(env, 'RTV_READY_TIMEOUT_MS', 60_000, 1000, 600_000);
  for (const name of plan.unknown)
    say(`services/${name} has a main.ts but no launcher settings; not started`);
  if (plan.specs.length === 0) {
    throw new Error('nothing to start: no services/<name>/src/main.ts exists yet');
  }
  reserveTagWidth(Math.max(...plan.specs.map((s) => s.tag.length + 2)));
  const redis = await resolveRedis({ log: say });
  if (redis.source === 'env') {
    try {
      await confirmRedisForServices(root, { ...env, REDIS_URL: redis.url });
    } catch (err) {
      await redis.stop();
      throw err;
    }
  }

  /** @type {Promise<never> | undefined} */
  let shuttingDown;
  /** @param {number} code */
  const shutdown = (code) => {
    supervisor.stop();
    shuttingDown ??= (async () => {
      const clean = await group.stopAll(STOP_GRACE_MS);
      if (!clean) say(`some services did not stop within ${STOP_GRACE_MS / 1000} s and were killed`);
      // Redis goes last: services may still write to it while they drain.
      await redis.stop();
      process.exit(code);
    })();
    return shuttingDown;
  };

  // A service that dies is started again while the others keep serving; one that keeps dying stops all.
  const supervisor = restartingSupervisor(() => group, readyTimeoutMs, shutdown);
  const group = new ServiceGroup({
    root,
    redisUrl: redis.url,
    onExit: (spec, exit) => {
      // Before it was first ready, waitReady() below reports the exit and stops the launcher.
      supervisor.handleExit(spec, exit);
    },
  });
  process.once('exit', () => group.killAll());
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(signal, () => {
      if (shuttingDown) {
        say('stopping now');
        group.killAll();
        return;
      }
      say(`${signal}: stopping services (again to kill them)`);
      void shutdown(0);
    });
  }

  for (const spec of plan.specs) {
    const pid = group.start(spec);
    say(`starting ${spec.tag} (pid ${pid})`);
    try {
      await group.waitReady(spec, readyTimeoutMs);
      supervisor.watch(spec);
    } catch (err) {
      fail(/** @type {Error} */ (err).message);
      return shutdown(1);
    }
  }
  printSummary(plan, redis);
  // Keep running until a signal or an unexpected exit calls shutdown().
  return new Promise(() => {});
}

/**
 * The supervisor `npm start` uses: restarts go through the service group, messages to the terminal, and a
 * crash loop prints the service's last lines and shuts everything down.
 * @param {() => ServiceGroup} group A getter: the group is built after the supervisor it reports exits to.
 * @param {number} readyTimeoutMs
 * @param {(code: number) => Promise<never>} shutdown
 */
function restartingSupervisor(group, readyTimeoutMs, shutdown) {
  return new ServiceSupervisor({
    restart: async (spec) => {
      const pid = group().start(spec);
      if (pid === undefined) return false;
      say(`starting ${spec.tag} again (pid ${pid})`);
      try {
        await group().waitReady(spec, readyTimeoutMs);
        return true;
      } catch (err) {
        if (err instanceof ExitedBeforeReadyError) return false;
        throw err;
      }
    },
    warn: fail,
    note: say,
    crashLoop: (spec, lastLines) => {
      fail(`last ${lastLines.length} lines of ${spec.tag}:`);
      const tag = formatTag(spec.tag, 'red');
      for (const line of lastLines) process.stderr.write(`${tag} ${line}\n`);
      void shutdown(1);
    },
  });
}

/**
 * What the gateway serves without credentials, and that production differs: `npm start` passes a laptop's
 * settings explicitly, and someone copying them to a server should know the gateway would not choose them.
 * @param {Record<string, string>} gatewayEnv
 * @param {(s: string) => string} label
 * @returns {string[]}
 */
function exposureLines(gatewayEnv, label) {
  const anonymous = gatewayEnv.RTV_ALLOW_ANONYMOUS ?? '';
  const origins = gatewayEnv.RTV_ALLOWED_ORIGINS ?? '';
  const values = `RTV_ALLOW_ANONYMOUS=${anonymous}, RTV_ALLOWED_ORIGINS=${origins}`;
  const laptop = anonymous === 'true' && origins === '*';
  return [
    `${label('Access')}${laptop ? `laptop defaults: anonymous route on, every browser origin (${values})` : `${values} (from your environment)`}`,
    `${''.padEnd(11)}production is closed by default: NODE_ENV=production or a JWT secret, JWKS URL or API key turns the anonymous route off, and NODE_ENV=production refuses browser origins until RTV_ALLOWED_ORIGINS lists them (docs/security.md)`,
  ];
}

/**
 * @param {import('./services.mjs').StartPlan} plan
 * @param {import('../redis.mjs').ResolvedRedis} redis
 */
function printSummary(plan, redis) {
  const { gateway } = plan.ports;
  const base = `localhost:${gateway}/api/v1/streaming/realtime`;
  const label = (/** @type {string} */ s) => paint('bold', s.padEnd(11));
  const lines = ['', paint('green', `realtime-voice is up (${plan.specs.map((s) => s.tag).join(', ')})`), ''];
  const gatewaySpec = plan.specs.find((s) => s.name === 'gateway');
  if (gatewaySpec) {
    lines.push(`${label('WebSocket')}ws://${base}/{user_id}`);
    lines.push(`${''.padEnd(11)}ws://${base}   (authenticated: Authorization: Bearer <token>)`);
    lines.push(`${label('HTTP')}http://${base}/status`);
    lines.push(`${''.padEnd(11)}http://${base}/health`);
    lines.push(...exposureLines(gatewaySpec.env, label));
  }
  for (const spec of plan.specs) {
    if (spec.pageUrl) lines.push(`${label('Demo')}${spec.pageUrl}`);
  }
  plan.specs.forEach((spec, i) => {
    const head = i === 0 ? label('Admin') : ''.padEnd(11);
    const ready = spec.readyUrl.replace('127.0.0.1', 'localhost');
    const metrics = spec.metricsUrl ? `${spec.metricsUrl.replace('127.0.0.1', 'localhost')}  ` : '';
    lines.push(`${head}${spec.tag.padEnd(12)}${metrics}${ready}`);
  });
  const redisNote = { env: 'from REDIS_URL', local: 'local', spawned: 'started by the launcher' }[
    redis.source
  ];
  lines.push(`${label('Redis')}${redactRedisUrl(redis.url)} (${redisNote})`);
  lines.push(
    `${label('Provider')}${process.env.OPENAI_API_KEY ? 'OpenAI Realtime (OPENAI_API_KEY is set)' : 'local engine (set OPENAI_API_KEY to use OpenAI Realtime)'}`,
  );
  lines.push(`${label('Try it')}npm run client -- --text "Hello, how are you?"`);
  lines.push(`${label('Stop')}Ctrl-C`, '');
  for (const line of lines) process.stdout.write(`${line}\n`);
}
