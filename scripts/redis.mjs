// Finds a Redis for the launcher, the test global setup and CI, using Node built-ins only (it runs
// before `npm ci` may have happened): REDIS_URL, else 127.0.0.1:6379, else a private redis-server. With
// RTV_REDIS_MODE=cluster or sentinel, REDIS_URL lists the cluster's nodes or the sentinels: they are checked,
// and nothing is ever started in their place.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

/**
 * @typedef {object} ResolvedRedis
 * @property {string} url redis:// URL the services and tests should use.
 * @property {'env' | 'local' | 'spawned'} source Where it came from (REDIS_URL, the default local port, or a
 *   redis-server started here).
 * @property {() => Promise<void>} stop Stops a spawned server and removes its temp dir; a no-op otherwise.
 */

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

const INSTALL_HINT =
  'set REDIS_URL=redis://host:port, or install redis-server (apt-get install redis-server / brew install redis)';

/**
 * Removes the password from a Redis URL, or from each URL of a comma-separated list, so it can be printed.
 * @param {string} url
 * @returns {string}
 */
export function redactRedisUrl(url) {
  if (url.includes(',')) return url.split(',').map(redactRedisUrl).join(',');
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** @param {string} s */
function bulk(s) {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/** @param {string[]} args */
function command(args) {
  return `*${args.length}\r\n${args.map(bulk).join('')}`;
}

/**
 * What the services send besides the URL, read as they read it (libs/bus `redisCredentialsFromEnv`):
 * `REDIS_PASSWORD` and the PEM file named by `RTV_REDIS_TLS_CA_FILE`.
 * @typedef {object} RedisAccess
 * @property {string} [password] Sent with AUTH when the URL carries none.
 * @property {string} [ca] PEM CA certificate(s) a rediss:// server certificate must chain to.
 */

/**
 * The {@link RedisAccess} of an environment. Throws one line naming RTV_REDIS_TLS_CA_FILE when that file
 * cannot be read.
 * @param {NodeJS.ProcessEnv} env
 * @returns {RedisAccess}
 */
export function redisAccessFromEnv(env) {
  /** @type {RedisAccess} */
  const access = {};
  if (env.REDIS_PASSWORD) access.password = env.REDIS_PASSWORD;
  const caFile = env.RTV_REDIS_TLS_CA_FILE?.trim();
  if (caFile) {
    try {
      access.ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      const reason = /** @type {NodeJS.ErrnoException} */ (err).code ?? /** @type {Error} */ (err).message;
      throw new Error(`RTV_REDIS_TLS_CA_FILE=${caFile}: cannot read it (${reason})`);
    }
  }
  return access;
}

/** An error reply nested in an array reply (a top-level one rejects the exchange instead). */
class ReplyError extends Error {}

/** @typedef {string | number | null | ReplyError | unknown[]} RespValue */

/**
 * Reads one RESP2 reply from `buf` at `at`; undefined while it has not fully arrived.
 * @param {Buffer} buf
 * @param {number} at
 * @returns {{ value: RespValue, end: number } | undefined}
 */
function readReply(buf, at) {
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[at] ?? 0);
  const line = buf.toString('utf8', at + 1, lineEnd);
  const after = lineEnd + 2;
  if (type === '+') return { value: line, end: after };
  if (type === '-') return { value: new ReplyError(line), end: after };
  if (type === ':') return { value: Number(line), end: after };
  const length = Number(line);
  if ((type !== '$' && type !== '*') || !Number.isInteger(length)) {
    throw new Error(`not a Redis reply: ${JSON.stringify(buf.toString('utf8', at, lineEnd).slice(0, 40))}`);
  }
  if (length < 0) return { value: null, end: after };
  if (type === '$') {
    if (buf.length < after + length + 2) return undefined;
    return { value: buf.toString('utf8', after, after + length), end: after + length + 2 };
  }
  /** @type {RespValue[]} */
  const items = [];
  let next = after;
  for (let i = 0; i < length; i++) {
    const item = readReply(buf, next);
    if (!item) return undefined;
    items.push(item.value);
    next = item.end;
  }
  return { value: items, end: next };
}

/**
 * Sends `commands` over one raw RESP connection (AUTH first when the URL or `access` carries a password) and
 * resolves with their replies in order. Rejects with a short reason (`ECONNREFUSED`, `timeout after 1000 ms`,
 * `NOAUTH …`, or the first error reply's text).
 * @param {string} url
 * @param {string[][]} commands
 * @param {number} timeoutMs
 * @param {RedisAccess} access
 * @returns {Promise<RespValue[]>}
 */
function exchange(url, commands, timeoutMs, access) {
  return new Promise((resolve, reject) => {
    /** @type {URL} */
    let u;
    try {
      u = new URL(url);
    } catch {
      reject(new Error('not a valid URL'));
      return;
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      reject(new Error(`unsupported scheme ${u.protocol} (use redis:// or rediss://)`));
      return;
    }
    const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(u.port || 6379);
    const secure = u.protocol === 'rediss:';
    const tlsOptions = { host, port, servername: net.isIP(host) ? undefined : host, ca: access.ca };
    const socket = secure ? tls.connect(tlsOptions) : net.connect({ host, port });
    const timer = setTimeout(() => finish(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    const pass = u.password ? decodeURIComponent(u.password) : access.password;
    const user = decodeURIComponent(u.username);
    const auth = pass ? [user ? ['AUTH', user, pass] : ['AUTH', pass]] : [];
    /** @type {RespValue[]} */
    const replies = [];
    /** @param {Error} [err] */
    const finish = (err) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies.slice(auth.length));
    };

    const expected = auth.length + commands.length;
    let buffered = Buffer.alloc(0);
    socket.on(secure ? 'secureConnect' : 'connect', () =>
      socket.write([...auth, ...commands].map(command).join('')),
    );
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        for (let reply = readReply(buffered, 0); reply; reply = readReply(buffered, 0)) {
          buffered = buffered.subarray(reply.end);
          if (reply.value instanceof ReplyError) return finish(new Error(reply.value.message));
          replies.push(reply.value);
          if (replies.length === expected) return finish();
        }
      } catch (err) {
        finish(/** @type {Error} */ (err));
      }
    });
    socket.on('error', (err) =>
      finish(new Error(/** @type {NodeJS.ErrnoException} */ (err).code ?? err.message)),
    );
    socket.on('close', () => finish(new Error('connection closed before the reply')));
  });
}

/**
 * Checks that a Redis answers PING with a raw RESP exchange (AUTH first when the URL or `access` carries a
 * password). Rejects with a short reason (`ECONNREFUSED`, `timeout after 1000 ms`, `NOAUTH …`).
 * @param {string} url
 * @param {number} [timeoutMs]
 * @param {RedisAccess} [access]
 * @returns {Promise<void>}
 */
export async function pingRedis(url, timeoutMs = 1000, access = {}) {
  const [pong] = await exchange(url, [['PING']], timeoutMs, access);
  if (pong !== 'PONG') throw new Error(`unexpected reply ${JSON.stringify(pong)}`);
}

/**
 * Checks that a Redis Cluster node answers PING and that its `CLUSTER INFO` says `cluster_state:ok` (every
 * slot served). Rejects with a short reason: the connection's, `cluster support disabled` for a plain Redis,
 * or the state it reports (`cluster_state:fail`).
 * @param {string} url
 * @param {number} [timeoutMs]
 * @param {RedisAccess} [access]
 * @returns {Promise<void>}
 */
export async function checkClusterNode(url, timeoutMs = 1000, access = {}) {
  const [pong, info] = await exchange(url, [['PING'], ['CLUSTER', 'INFO']], timeoutMs, access).catch(
    (/** @type {Error} */ err) => {
      throw /cluster support disabled/i.test(err.message) ? new Error('cluster support disabled') : err;
    },
  );
  if (pong !== 'PONG') throw new Error(`unexpected reply ${JSON.stringify(pong)}`);
  const state = /^cluster_state:(\S+)/m.exec(typeof info === 'string' ? info : '')?.[1];
  if (state !== 'ok') throw new Error(`cluster_state:${state ?? 'unknown'}`);
}

/**
 * Checks that a sentinel answers PING and, when `master` is given, that it monitors a master of that name.
 * Rejects with a short reason (the connection's, or `no master named …`).
 * @param {string} url
 * @param {string | undefined} master
 * @param {number} [timeoutMs]
 * @param {RedisAccess} [access]
 * @returns {Promise<void>}
 */
export async function checkSentinel(url, master, timeoutMs = 1000, access = {}) {
  const lookup = master === undefined ? [] : [['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master]];
  const [pong, address] = await exchange(url, [['PING'], ...lookup], timeoutMs, access);
  if (pong !== 'PONG') throw new Error(`unexpected reply ${JSON.stringify(pong)}`);
  if (master !== undefined && !Array.isArray(address)) throw new Error(`no master named ${master}`);
}

/**
 * Returns the absolute path of an executable on PATH, or undefined.
 * @param {string} name
 * @param {string} [searchPath]
 */
export function findOnPath(name, searchPath = process.env.PATH) {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Asks the kernel for a free loopback port. @returns {Promise<number>} */
export function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a throwaway redis-server on a free loopback port: no RDB, no AOF, its own temp dir.
 * @param {string} binary
 * @param {(line: string) => void} [log]
 * @returns {Promise<ResolvedRedis>}
 */
export async function spawnRedisServer(binary, log = () => {}) {
  // The port is free when we ask, but another process may take it before redis binds: retry a few times.
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', dir, '--daemonize', 'no', '--logfile', '');
    // detached: a Ctrl-C in the terminal must not kill Redis before the services using it have stopped.
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const collect = (/** @type {Buffer} */ b) => {
      output = (output + b.toString()).slice(-4000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    /** @type {number | null | undefined} */
    let exitCode;
    const exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : null);
        resolve(undefined);
      });
      child.once('error', (err) => {
        output += err.message;
        exitCode = -1;
        resolve(undefined);
      });
    });
    const url = `redis://127.0.0.1:${port}`;
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    const killOnExit = () => {
      if (exitCode === undefined) child.kill('SIGKILL');
      removeDir();
    };
    process.once('exit', killOnExit);

    const deadline = Date.now() + 5000;
    while (exitCode === undefined && Date.now() < deadline) {
      try {
        await pingRedis(url, 250);
        log(`started redis-server (pid ${child.pid}) at ${url}`);
        let stopping;
        const stop = () => {
          stopping ??= (async () => {
            process.removeListener('exit', killOnExit);
            if (exitCode === undefined) {
              child.kill('SIGTERM');
              const killed = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
              if (!killed) {
                child.kill('SIGKILL');
                await exited;
              }
            }
            removeDir();
          })();
          return stopping;
        };
        return { url, source: 'spawned', stop };
      } catch {
        await sleep(50);
      }
    }
    process.removeListener('exit', killOnExit);
    if (exitCode === undefined) child.kill('SIGKILL');
    await exited;
    removeDir();
    lastError = output.trim().split('\n').pop() ?? 'no output';
  }
  throw new Error(`redis-server (${binary}) did not start: ${lastError}`);
}

/**
 * The deployment shape the services will assume (`RTV_REDIS_MODE`, as libs/bus `redisTopologyFromEnv` reads it).
 * @param {NodeJS.ProcessEnv} env
 * @returns {'single' | 'cluster' | 'sentinel'}
 */
export function redisModeFromEnv(env) {
  const mode = env.RTV_REDIS_MODE?.trim() || 'single';
  if (mode !== 'single' && mode !== 'cluster' && mode !== 'sentinel') {
    throw new Error(`RTV_REDIS_MODE=${mode}: expected single, cluster or sentinel`);
  }
  return mode;
}

/**
 * Picks the Redis to use: `REDIS_URL` when set (it must answer, with `REDIS_PASSWORD` and
 * `RTV_REDIS_TLS_CA_FILE` as the services would use them), else 127.0.0.1:6379 when it answers, else a
 * private redis-server from PATH. With `RTV_REDIS_MODE=cluster` or `sentinel` only `REDIS_URL` counts (see
 * {@link resolveDistributedRedis}). Throws a one-line error saying how to get Redis when none of these works.
 * `localUrl` exists for tests, which point it at a dead port to exercise the spawn path.
 * @param {{ log?: (line: string) => void, env?: NodeJS.ProcessEnv, localUrl?: string }} [options]
 * @returns {Promise<ResolvedRedis>}
 */
export async function resolveRedis({ log = () => {}, env = process.env, localUrl = LOCAL_REDIS_URL } = {}) {
  const mode = redisModeFromEnv(env);
  if (mode !== 'single') return resolveDistributedRedis(mode, env, log);
  const noop = async () => {};
  const fromEnv = env.REDIS_URL?.trim();
  if (fromEnv) {
    const access = redisAccessFromEnv(env);
    try {
      await pingRedis(fromEnv, 2000, access);
    } catch (err) {
      throw new Error(
        `REDIS_URL=${redactRedisUrl(fromEnv)} does not answer PING (${/** @type {Error} */ (err).message}): ` +
          'start that Redis, fix REDIS_URL, or unset it to use a local one',
      );
    }
    log(`using Redis from REDIS_URL (${redactRedisUrl(fromEnv)})`);
    return { url: fromEnv, source: 'env', stop: noop };
  }
  try {
    await pingRedis(localUrl, 500);
    log(`using local Redis at ${localUrl}`);
    return { url: localUrl, source: 'local', stop: noop };
  } catch {
    // nothing on the default port: try to start one
  }
  const binary = findOnPath('redis-server', env.PATH);
  if (!binary) {
    const where = new URL(localUrl).host;
    throw new Error(
      `No Redis: REDIS_URL is unset, nothing answers at ${where} and redis-server is not on PATH; ${INSTALL_HINT}`,
    );
  }
  return spawnRedisServer(binary, log);
}

/**
 * A Redis Cluster or a sentinel-watched master, from `REDIS_URL` only: the launcher cannot stand in for either
 * with a private redis-server, so it never starts one. The listed endpoints are checked together and the first
 * good answer wins: for a cluster a node answering PING with `cluster_state:ok` (`REDIS_PASSWORD` and
 * `RTV_REDIS_TLS_CA_FILE` as for the nodes), for sentinel a sentinel answering PING that knows the master named
 * by `RTV_REDIS_SENTINEL_MASTER` (`RTV_REDIS_SENTINEL_PASSWORD`, the sentinels' own, as the services send it).
 * When none passes, throws one line naming REDIS_URL with each endpoint's reason.
 * @param {'cluster' | 'sentinel'} mode
 * @param {NodeJS.ProcessEnv} env
 * @param {(line: string) => void} log
 * @returns {Promise<ResolvedRedis>}
 */
async function resolveDistributedRedis(mode, env, log) {
  const listed = mode === 'cluster' ? "the cluster's nodes" : 'the sentinels';
  const fromEnv = env.REDIS_URL?.trim();
  const urls = (fromEnv ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (urls.length === 0) {
    throw new Error(
      `RTV_REDIS_MODE=${mode} needs REDIS_URL, a comma-separated list of ${listed}; the launcher starts no Redis in this mode`,
    );
  }
  const master = env.RTV_REDIS_SENTINEL_MASTER?.trim() || undefined;
  if (mode === 'sentinel' && master === undefined) {
    throw new Error(
      'RTV_REDIS_MODE=sentinel needs RTV_REDIS_SENTINEL_MASTER, the name the sentinels monitor',
    );
  }
  const access = redisAccessFromEnv(env);
  const sentinelAccess = { ca: access.ca, password: env.RTV_REDIS_SENTINEL_PASSWORD || undefined };
  /** @param {string} url */
  const check = (url) =>
    mode === 'cluster'
      ? checkClusterNode(url, 2000, access)
      : checkSentinel(withoutCredentials(url), master, 2000, sentinelAccess);
  const reasons = new Map(urls.map((url) => [url, 'no answer']));
  try {
    const good = await Promise.any(
      urls.map((url) =>
        check(url).then(
          () => url,
          (/** @type {Error} */ err) => {
            reasons.set(url, err.message);
            throw err;
          },
        ),
      ),
    );
    const what = mode === 'cluster' ? 'Redis Cluster' : `Redis master ${master} via sentinel`;
    log(`using ${what} from REDIS_URL (${redactRedisUrl(fromEnv ?? '')}; ${redactRedisUrl(good)} answers)`);
    return { url: /** @type {string} */ (fromEnv), source: 'env', stop: async () => {} };
  } catch {
    const expected = mode === 'cluster' ? 'answers with cluster_state:ok' : `answers for master ${master}`;
    const why = [...reasons].map(([url, reason]) => `${redactRedisUrl(url)} (${reason})`).join(', ');
    throw new Error(
      `REDIS_URL lists no ${mode === 'cluster' ? 'cluster node' : 'sentinel'} that ${expected} (RTV_REDIS_MODE=${mode}): ${why}; ` +
        `start ${mode === 'cluster' ? 'the cluster' : 'the sentinels'} or fix REDIS_URL`,
    );
  }
}

/**
 * `url` without user and password: the services reach sentinels with `RTV_REDIS_SENTINEL_PASSWORD` only.
 * @param {string} url
 */
function withoutCredentials(url) {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}
