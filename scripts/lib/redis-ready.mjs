// The launcher's check that the Redis it resolved is one the services can use: `scripts/redis-ready.ts` connects
// through the services' own connection factory with this environment's settings. The dependency-free probes of
// redis.mjs find or start a Redis before dependencies may be installed; they cannot see everything a service's
// connection depends on (a sentinel-announced master that does not answer, its password, the TLS CA file).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { redactRedisUrl } from '../redis.mjs';
import { TS_NODE_ARGS } from './proc.mjs';

/**
 * Resolves when a service's connection to `env.REDIS_URL` (with `env`'s RTV_REDIS_MODE, REDIS_PASSWORD,
 * RTV_REDIS_TLS_CA_FILE and sentinel settings) becomes ready; rejects with one line naming REDIS_URL and
 * the reason otherwise.
 * @param {string} root
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<void>}
 */
export function confirmRedisForServices(root, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, path.join(root, 'scripts', 'redis-ready.ts')], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) return resolve();
      const reason = stderr.trim().split('\n').pop() || `exit ${code ?? signal}`;
      const mode = env.RTV_REDIS_MODE?.trim() || 'single';
      reject(
        new Error(
          `the services cannot use REDIS_URL=${redactRedisUrl(env.REDIS_URL ?? '')} (RTV_REDIS_MODE=${mode}): ${reason}`,
        ),
      );
    });
  });
}
