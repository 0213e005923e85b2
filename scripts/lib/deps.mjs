// Makes a fresh clone runnable: `npm ci` when node_modules is missing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from './proc.mjs';
import { say } from './ui.mjs';

/**
 * @param {string} root
 */
export async function ensureDependencies(root) {
  if (existsSync(path.join(root, 'node_modules'))) return;
  if (!existsSync(path.join(root, 'package-lock.json'))) {
    throw new Error(
      'node_modules is missing and there is no package-lock.json to install from: run npm install',
    );
  }
  say('node_modules is missing: running npm ci');
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
