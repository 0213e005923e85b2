// What `npm start` runs: which services exist, their env and ports, and the group that starts them, waits
// for /readyz, tags their output, remembers their last lines and stops them all together. Restarting a
// service that died is ServiceSupervisor's decision (supervisor.mjs).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signalTree, TS_NODE_ARGS } from './proc.mjs';
import { formatTag, prefixLines, TAG_COLORS } from './ui.mjs';

/**
 * @typedef {object} ServiceSpec
 * @property {string} name Folder under services/.
 * @property {string} tag Name shown in the output and in messages (`worker-2`).
 * @property {string} entry Entry file relative to the repo root.
 * @property {Record<string, string>} env Variables added to the launcher's environment.
 * @property {string} readyUrl Polled until it answers 200.
 * @property {string} [metricsUrl] Printed in the summary (services without metrics have none).
 * @property {string} [pageUrl] A page for people, printed in the summary (the demo).
 */

/**
 * @typedef {object} StartPlan
 * @property {ServiceSpec[]} specs In start order.
 * @property {string[]} unknown Service folders with a main.ts the launcher has no settings for.
 * @property {{ gateway: number, gatewayAdmin: number, status: number, demo: number }} ports
 */

/**
 * Start order matters: the gateway asks status-api and needs workers to hand sessions to; the demo page
 * comes last so its URL is printed once everything it talks to is up.
 */
const KNOWN = ['status-api', 'session-worker', 'gateway', 'demo-web'];

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 */
export function intFromEnv(env, name, fallback, min, max) {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

/**
 * What the gateway serves without credentials under `npm start`: a laptop's settings, the anonymous route
 * and every browser origin. The gateway itself turns both down with `NODE_ENV=production`, and the
 * anonymous route with any JWT secret, JWKS URL or API key configured; the launcher sets them explicitly so
 * such a variable in a developer's shell does not lock the demo page out. Values set in the environment win.
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ RTV_ALLOW_ANONYMOUS: string, RTV_ALLOWED_ORIGINS: string }}
 */
export function laptopExposure(env) {
  const given = (/** @type {string} */ name) => (env[name]?.trim() ? env[name] : undefined);
  return {
    RTV_ALLOW_ANONYMOUS: given('RTV_ALLOW_ANONYMOUS') ?? 'true',
    RTV_ALLOWED_ORIGINS: given('RTV_ALLOWED_ORIGINS') ?? '*',
  };
}

/**
 * @param {string} root
 * @param {NodeJS.ProcessEnv} env
 * @returns {StartPlan}
 */
export function planServices(root, env) {
  const status = intFromEnv(env, 'RTV_STATUS_PORT', 8090, 1, 65535);
  const workers = intFromEnv(env, 'RTV_WORKERS', 1, 1, 32);
  const gateway = intFromEnv(env, 'RTV_GATEWAY_PORT', 8000, 1, 65535);
  const gatewayAdmin = intFromEnv(env, 'RTV_GATEWAY_ADMIN_PORT', 9100, 1, 65535);
  const demo = intFromEnv(env, 'RTV_DEMO_PORT', 8080, 1, 65535);
  const workerAdminBase = intFromEnv(env, 'RTV_WORKER_ADMIN_PORT_BASE', 9200, 1, 65535 - workers);
  const exists = (/** @type {string} */ name) =>
    existsSync(path.join(root, 'services', name, 'src', 'main.ts'));
  const entry = (/** @type {string} */ name) => `services/${name}/src/main.ts`;
  const local = (/** @type {number} */ port, /** @type {string} */ p) => `http://127.0.0.1:${port}${p}`;

  /** @type {ServiceSpec[]} */
  const specs = [];
  if (exists('status-api')) {
    specs.push({
      name: 'status-api',
      tag: 'status-api',
      entry: entry('status-api'),
      env: {
        RTV_STATUS_PORT: String(status),
        // The gateway forwards the public status and health routes from loopback with X-Forwarded-For; the
        // status API counts each client under its own address only if it believes the gateway.
        RTV_TRUSTED_PROXIES: env.RTV_TRUSTED_PROXIES?.trim()
          ? env.RTV_TRUSTED_PROXIES
          : '127.0.0.1/32,::1/128',
      },
      readyUrl: local(status, '/readyz'),
      metricsUrl: local(status, '/metrics'),
    });
  }
  if (exists('session-worker')) {
    for (let i = 1; i <= workers; i++) {
      const admin = workerAdminBase + i;
      specs.push({
        name: 'session-worker',
        tag: `worker-${i}`,
        entry: entry('session-worker'),
        env: { RTV_WORKER_ADMIN_PORT: String(admin), RTV_WORKER_ID: `worker-${i}` },
        readyUrl: local(admin, '/readyz'),
        metricsUrl: local(admin, '/metrics'),
      });
    }
  }
  if (exists('gateway')) {
    specs.push({
      name: 'gateway',
      tag: 'gateway',
      entry: entry('gateway'),
      env: {
        RTV_GATEWAY_PORT: String(gateway),
        RTV_GATEWAY_ADMIN_PORT: String(gatewayAdmin),
        RTV_STATUS_URL: `http://127.0.0.1:${status}`,
        ...laptopExposure(env),
      },
      readyUrl: local(gatewayAdmin, '/readyz'),
      metricsUrl: local(gatewayAdmin, '/metrics'),
    });
  }
  if (exists('demo-web')) {
    specs.push({
      name: 'demo-web',
      tag: 'demo-web',
      entry: entry('demo-web'),
      env: {
        RTV_DEMO_PORT: String(demo),
        // The page runs in the browser, so it needs the gateway's address as the browser sees it.
        RTV_DEMO_GATEWAY_URL:
          env.RTV_DEMO_GATEWAY_URL ?? `ws://localhost:${gateway}/api/v1/streaming/realtime`,
      },
      readyUrl: local(demo, '/readyz'),
      pageUrl: `http://localhost:${demo}/`,
    });
  }
  const servicesDir = path.join(root, 'services');
  const folders = existsSync(servicesDir) ? readdirSync(servicesDir) : [];
  const unknown = folders.filter((name) => !KNOWN.includes(name) && exists(name));
  return { specs, unknown, ports: { gateway, gatewayAdmin, status, demo } };
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** waitReady()'s answer when the service exited before it was ready (not a hang: its lines say why). */
export class ExitedBeforeReadyError extends Error {}

/** How many of a service's last output lines are kept, to show when it crash-loops. */
const LAST_LINES = 20;

/**
 * @typedef {object} Running
 * @property {ServiceSpec} spec
 * @property {import('node:child_process').ChildProcess} child
 * @property {Promise<void>} exited
 * @property {string} logFile
 * @property {number} startedAt
 * @property {string[]} lastLines The newest LAST_LINES lines of its output, oldest first.
 */

/**
 * @typedef {(spec: ServiceSpec, exit: import('./supervisor.mjs').ExitInfo) => void} ExitHandler
 */

/** Starts services as tagged child processes, starts one again when asked, and stops them together. */
export class ServiceGroup {
  /** @type {Running[]} The current run of each service, in start order. */
  #running = [];
  /** @type {Map<string, import('./ui.mjs').Color>} A restarted service keeps its colour. */
  #colors = new Map();
  #root;
  #redisUrl;
  #logDir;
  #stopping = false;
  /** @type {ExitHandler} */
  #onExit;

  /**
   * @param {{ root: string, redisUrl: string, onExit: ExitHandler }} options
   *   `onExit` is called when a service exits before stopAll() was asked for.
   */
  constructor({ root, redisUrl, onExit }) {
    this.#root = root;
    this.#redisUrl = redisUrl;
    this.#onExit = onExit;
    this.#logDir = path.join(os.tmpdir(), 'realtime-voice-logs');
    mkdirSync(this.#logDir, { recursive: true });
  }

  /**
   * Starts the service, or starts it again if it ran before (its log file is appended to then).
   * @param {ServiceSpec} spec
   * @returns {number | undefined} The pid, or undefined once stopAll() was asked for or the spawn failed.
   */
  start(spec) {
    if (this.#stopping) return undefined;
    const color = this.#colors.get(spec.tag) ?? TAG_COLORS[this.#colors.size % TAG_COLORS.length] ?? 'cyan';
    this.#colors.set(spec.tag, color);
    const tag = formatTag(spec.tag, color);
    const logFile = path.join(this.#logDir, `${spec.tag}.log`);
    const previous = this.#running.findIndex((r) => r.spec.tag === spec.tag);
    const log = createWriteStream(logFile, { flags: previous === -1 ? 'w' : 'a' });
    // Detached: each service leads its own process group, so a terminal Ctrl-C reaches only the launcher,
    // which then stops the services in order and within a bound.
    const child = spawn(process.execPath, [...TS_NODE_ARGS, spec.entry], {
      cwd: this.#root,
      env: { ...process.env, REDIS_URL: this.#redisUrl, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    /** @type {string[]} */
    const lastLines = [];
    const sink = (/** @type {string} */ line) => {
      log.write(`${line}\n`);
      lastLines.push(line);
      if (lastLines.length > LAST_LINES) lastLines.shift();
    };
    const startedAt = Date.now();
    prefixLines(/** @type {NodeJS.ReadableStream} */ (child.stdout), process.stdout, tag, sink);
    prefixLines(/** @type {NodeJS.ReadableStream} */ (child.stderr), process.stderr, tag, sink);
    const exited = new Promise((resolve) => {
      child.once('error', (err) => {
        sink(`failed to start: ${err.message}`);
        resolve(undefined);
      });
      // 'close', not 'exit': by then its pipes are drained, so its last lines (and the log) are complete.
      child.once('close', (code, signal) => {
        log.end();
        if (!this.#stopping) {
          this.#onExit(spec, { code, signal, ranMs: Date.now() - startedAt, lastLines: [...lastLines] });
        }
        resolve(undefined);
      });
    }).then(() => {});
    const running = { spec, child, exited, logFile, startedAt, lastLines };
    if (previous === -1) this.#running.push(running);
    else this.#running[previous] = running;
    return child.pid;
  }

  /**
   * Resolves when the service's readyUrl answers 200; rejects when it exits first or the time is up.
   * @param {ServiceSpec} spec
   * @param {number} timeoutMs
   */
  async waitReady(spec, timeoutMs) {
    const running = this.#running.find((r) => r.spec.tag === spec.tag);
    if (!running) throw new Error(`${spec.tag} was not started`);
    let gone = false;
    running.exited.then(() => {
      gone = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (!gone && Date.now() < deadline) {
      try {
        const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    if (gone) {
      const { exitCode, signalCode } = running.child;
      throw new ExitedBeforeReadyError(
        `${spec.tag} exited (${signalCode ?? `code ${exitCode}`}) before it was ready; see its lines above or ${running.logFile}`,
      );
    }
    throw new Error(
      `${spec.tag} was not ready at ${spec.readyUrl} within ${timeoutMs / 1000} s; see its lines above or ${running.logFile}`,
    );
  }

  /**
   * SIGTERM to every service at once, then SIGKILL to whatever is left after `graceMs`.
   * @param {number} graceMs
   */
  async stopAll(graceMs) {
    this.#stopping = true;
    const alive = this.#running.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    for (const r of alive) signalTree(r.child, 'SIGTERM');
    const all = Promise.all(alive.map((r) => r.exited));
    const done = await Promise.race([all.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      for (const r of alive) signalTree(r.child, 'SIGKILL');
      await all;
    }
    return done;
  }

  /** Last-resort cleanup from a process 'exit' handler (synchronous). */
  killAll() {
    for (const r of this.#running) signalTree(r.child, 'SIGKILL');
  }
}
