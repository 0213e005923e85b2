// Finds a Redis for the launcher, the test global setup and CI, using Node built-ins only (it runs
// before `npm ci` may have happened): REDIS_URL, else 127.0.0.1:6379, else a private redis-server.
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
 * Removes the password from a Redis URL so it can be printed.
 * @param {string} url
 */
export function redactRedisUrl(url) {
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

/**
 * Checks that a Redis answers PING with a raw RESP exchange (AUTH first when the URL or `access` carries a
 * password). Rejects with a short reason (`ECONNREFUSED`, `timeout after 1000 ms`, `NOAUTH …`).
 * @param {string} url
 * @param {number} [timeoutMs]
 * @param {RedisAccess} [access]
 * @returns {Promise<void>}
 */
export function pingRedis(url, timeoutMs = 1000, access = {}) {
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
    /** @param {Error} [err] */
    const finish = (err) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };

    let request = '';
    const pass = u.password ? decodeURIComponent(u.password) : access.password;
    if (pass) {
      const user = decodeURIComponent(u.username);
      request += command(user ? ['AUTH', user, pass] : ['AUTH', pass]);
    }
    request += command(['PING']);
    // The replies we wait for are simple strings or errors, one per line, in request order.
    const expected = pass ? 2 : 1;
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on(secure ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\r\n');
      const complete = lines.slice(0, -1);
      for (const line of complete) {
        if (line.startsWith('-')) return finish(new Error(line.slice(1)));
      }
      if (complete.length >= expected) {
        const last = complete[expected - 1];
        finish(last === '+PONG' ? undefined : new Error(`unexpected reply ${JSON.stringify(last)}`));
      }
    });
    socket.on('error', (err) =>
      finish(new Error(/** @type {NodeJS.ErrnoException} */ (err).code ?? err.message)),
    );
    socket.on('close', () => finish(new Error('connection closed before PONG')));
  });
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
 * Picks the Redis to use: `REDIS_URL` when set (it must answer, with `REDIS_PASSWORD` and
 * `RTV_REDIS_TLS_CA_FILE` as the services would use them), else 127.0.0.1:6379 when it answers, else a
 * private redis-server from PATH. Throws a one-line error saying how to get Redis when none of these works.
 * `localUrl` exists for tests, which point it at a dead port to exercise the spawn path.
 * @param {{ log?: (line: string) => void, env?: NodeJS.ProcessEnv, localUrl?: string }} [options]
 * @returns {Promise<ResolvedRedis>}
 */
export async function resolveRedis({ log = () => {}, env = process.env, localUrl = LOCAL_REDIS_URL } = {}) {
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
