// Keeps `npm start` serving when one service dies: the dead service is restarted with capped backoff while
// the others keep running, and a service that keeps dying stops the launcher with its last lines.

/**
 * @typedef {object} RestartPolicy
 * @property {number} firstDelayMs Wait before the first restart; doubles for each quick exit after it.
 * @property {number} maxDelayMs The doubling stops here.
 * @property {number} healthyMs A service that ran this long before exiting starts again from firstDelayMs.
 * @property {number} crashLoopExits This many exits within crashLoopWindowMs is a crash loop.
 * @property {number} crashLoopWindowMs
 */

/** @type {RestartPolicy} */
export const DEFAULT_RESTART_POLICY = {
  firstDelayMs: 500,
  maxDelayMs: 10_000,
  healthyMs: 60_000,
  crashLoopExits: 5,
  crashLoopWindowMs: 60_000,
};

/**
 * The restart bookkeeping for one service.
 * @typedef {object} ServiceRecord
 * @property {number} restarts Restarts since the launcher started, printed so a flapping service shows.
 * @property {number} quickExits Exits since the service last ran `healthyMs`; sets the backoff.
 * @property {number[]} exitTimes Recent exits, for the crash-loop window.
 * @property {ReturnType<typeof setTimeout> | undefined} timer A pending restart.
 */

/**
 * @typedef {object} ExitInfo
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {number} ranMs How long this run of the service lasted.
 * @property {string[]} lastLines Its last output lines, shown when it crash-loops.
 */

/**
 * Decides what happens when a running service exits: restart after a backoff, or, when it keeps exiting,
 * give up on the whole stack. Only services that were ready once are supervised; a service that never
 * comes up at `npm start` is a configuration problem the launcher reports instead of retrying.
 */
export class ServiceSupervisor {
  /** @type {Map<string, ServiceRecord>} */
  #records = new Map();
  #stopped = false;
  #policy;
  #hooks;

  /**
   * @param {{
   *   restart: (spec: import('./services.mjs').ServiceSpec) => Promise<boolean>,
   *   warn: (message: string) => void,
   *   note: (message: string) => void,
   *   crashLoop: (spec: import('./services.mjs').ServiceSpec, lastLines: string[]) => void,
   * }} hooks `restart` starts the service again and resolves true once it is ready, false if it exited
   *   first (that exit comes back through handleExit), and rejects if it hangs; `warn` prints exits and
   *   failures, `note` a service that is back;
   *   `crashLoop` is called once a service exits too often, and should stop everything.
   * @param {RestartPolicy} [policy]
   */
  constructor(hooks, policy = DEFAULT_RESTART_POLICY) {
    this.#hooks = hooks;
    this.#policy = policy;
  }

  /** @param {import('./services.mjs').ServiceSpec} spec Supervise it from now on (call once it is ready). */
  watch(spec) {
    if (!this.#records.has(spec.tag)) {
      this.#records.set(spec.tag, { restarts: 0, quickExits: 0, exitTimes: [], timer: undefined });
    }
  }

  /**
   * @param {import('./services.mjs').ServiceSpec} spec
   * @param {ExitInfo} exit
   * @returns {boolean} Whether the exit was handled (false: the service is not supervised, or stop() ran).
   */
  handleExit(spec, exit) {
    const record = this.#records.get(spec.tag);
    if (!record || this.#stopped) return false;
    const policy = this.#policy;
    const now = Date.now();
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    record.exitTimes = [...record.exitTimes, now].filter((t) => now - t < policy.crashLoopWindowMs);
    if (record.exitTimes.length >= policy.crashLoopExits) {
      this.stop();
      this.#hooks.warn(
        `${spec.tag} exited (${how}) ${record.exitTimes.length} times within ${policy.crashLoopWindowMs / 1000} s; stopping everything`,
      );
      this.#hooks.crashLoop(spec, exit.lastLines);
      return true;
    }
    record.quickExits = exit.ranMs >= policy.healthyMs ? 1 : record.quickExits + 1;
    const delayMs = Math.min(policy.firstDelayMs * 2 ** (record.quickExits - 1), policy.maxDelayMs);
    record.restarts += 1;
    const restart = record.restarts;
    this.#hooks.warn(`${spec.tag} exited (${how}); restart ${restart} in ${delayMs / 1000} s`);
    record.timer = setTimeout(() => {
      record.timer = undefined;
      if (this.#stopped) return;
      this.#hooks.restart(spec).then(
        (ready) => {
          if (ready && !this.#stopped) this.#hooks.note(`${spec.tag} is back (restart ${restart})`);
        },
        (/** @type {Error} */ err) => {
          if (!this.#stopped) this.#hooks.warn(err.message);
        },
      );
    }, delayMs);
    return true;
  }

  /** No restarts from now on: the launcher is shutting down. Pending restarts are cancelled. */
  stop() {
    this.#stopped = true;
    for (const record of this.#records.values()) clearTimeout(record.timer);
  }
}
