// Makes a fresh clone runnable: `npm ci` when the dependencies were never installed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from './proc.mjs';
import { say } from './ui.mjs';

/**
 * npm writes node_modules/.package-lock.json at the end of every install. The folder alone proves nothing: tools
 * create node_modules/.cache on a clone that was never installed (`npm run images` records its builds there).
 * @param {string} root
 */
export function dependenciesInstalled(root) {
  return existsSync(path.join(root, 'node_modules', '.package-lock.json'));
}

/**
 * @param {string} root
 */
export async function ensureDependencies(root) {
  if (dependenciesInstalled(root)) return;
  if (!existsSync(path.join(root, 'package-lock.json'))) {
    throw new Error(
      'dependencies are not installed and there is no package-lock.json to install from: run npm install',
    );
  }
  say('dependencies are not installed (no node_modules/.package-lock.json): running npm ci');
  let code;
  try {
    code = await run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci'], { cwd: root });
  } catch (err) {
    throw new Error(
      `cannot install dependencies: ${/** @type {Error} */ (err).message} (install Node.js with npm)`,
    );
  }
  if (code !== 0) throw new Error(`npm ci failed (exit ${code}); see its output above`);
}
