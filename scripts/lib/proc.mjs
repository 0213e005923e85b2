// Child-process helpers shared by the launcher commands.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** `node` flags that run TypeScript from source: the `source` export condition plus the tsx loader. */
export const TS_NODE_ARGS = ['--conditions=source', '--import', 'tsx'];

/**
 * Path of a binary installed in the project's node_modules/.bin.
 * @param {string} root
 * @param {string} name
 */
export function localBin(root, name) {
  const file = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
  if (!existsSync(file)) {
    throw new Error(`${name} is not installed in node_modules/.bin: run npm ci (or npm install) first`);
  }
  return file;
}

/**
 * Runs a command with inherited stdio and resolves with its exit code (signals map to 128 + n, like a shell).
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv,
 *   onSpawn?: (child: import('node:child_process').ChildProcess) => void }} options
 *   `onSpawn` receives the child, so a signal handler can forward SIGTERM to it.
 * @returns {Promise<number>}
 */
export function run(command, args, { cwd, env = process.env, onSpawn }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env,
      stdio: 'inherit',
      // .cmd shims need a shell on Windows; elsewhere a shell would only add quoting hazards.
      shell: process.platform === 'win32' && command.endsWith('.cmd'),
    });
    onSpawn?.(child);
    child.once('error', (err) => {
      const code = /** @type {NodeJS.ErrnoException} */ (err).code;
      reject(new Error(code === 'ENOENT' ? `${command} not found` : err.message));
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });
}

/** @param {NodeJS.Signals} signal */
function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[/** @type {string} */ (signal)] ?? 0;
}

/**
 * Signals a child's whole process group (children are spawned detached, so they lead one), falling back
 * to the child alone.
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals} signal
 */
export function signalTree(child, signal) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
