// Real Redis for tests, isolated by key prefix: every test gets `rtvt:<run>:<label>:<random>` and deletes
// exactly that on cleanup, so suites can run in parallel against one server.
import { randomBytes } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';

/** The Redis chosen by the test global setup (REDIS_URL), or the conventional local one. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

let fallbackRunId: string | undefined;

/** Identifies this test run; set by the global setup so every worker shares it. */
export function testRunId(): string {
  const fromEnv = process.env.RTV_TEST_RUN_ID;
  if (fromEnv) return fromEnv;
  fallbackRunId ??= randomBytes(4).toString('hex');
  return fallbackRunId;
}

/** `rtvt:<runid>:<label>:<random>`; use it as the service's key prefix (it has no trailing colon). */
export function uniquePrefix(label: string): string {
  return `rtvt:${testRunId()}:${label}:${randomBytes(4).toString('hex')}`;
}

/** Escapes glob metacharacters so a prefix matches literally in SCAN MATCH. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

export interface TestRedis {
  /** A connected client; `cleanup()` closes it. */
  redis: Redis;
  /** Unique key prefix for this test. */
  prefix: string;
  url: string;
  /** Deletes every key under `prefix` (SCAN + UNLINK), then closes the client. Safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Deletes every key that starts with `prefix`, in SCAN-sized batches; returns how many were deleted. On a Redis
 * Cluster every master is scanned (each holds only its own slots) and each key is unlinked on its own: one
 * UNLINK of keys from several slots is refused there.
 */
export async function deleteKeysWithPrefix(redis: Redis | Cluster, prefix: string): Promise<number> {
  // BullMQ's keys of a deployment carry the prefix inside their hash tag: `{<prefix>:bull}:…`.
  return (
    (await deleteKeysMatching(redis, `${escapeGlob(prefix)}*`)) +
    (await deleteKeysMatching(redis, `${escapeGlob(`{${prefix}:bull}`)}*`))
  );
}

/** Deletes every key matching the SCAN pattern `match` (see {@link deleteKeysWithPrefix}). */
async function deleteKeysMatching(redis: Redis | Cluster, match: string): Promise<number> {
  if (!isCluster(redis)) return scanAndDelete(redis, match, (keys) => redis.unlink(...keys));
  let deleted = 0;
  for (const node of redis.nodes('master')) {
    deleted += await scanAndDelete(node, match, async (keys) => {
      const counts = await Promise.all(keys.map((key) => redis.unlink(key)));
      return counts.reduce((sum, n) => sum + n, 0);
    });
  }
  return deleted;
}

/** SCANs one server for `match` and hands each non-empty batch to `unlink`; returns the sum of its counts. */
async function scanAndDelete(
  node: Redis,
  match: string,
  unlink: (keys: string[]) => Promise<number>,
): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await unlink(keys);
  } while (cursor !== '0');
  return deleted;
}

/** Whether `redis` is a Redis Cluster client (as `isCluster` of `@rtv/bus`, which this package does not use). */
function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** Connects to the test Redis with a fresh prefix for `label`. */
export async function createTestRedis(label = 'test'): Promise<TestRedis> {
  const url = testRedisUrl();
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  // Without a listener a connection error becomes an uncaught 'error' event instead of a failed command.
  redis.on('error', () => {});
  await redis.connect();
  const prefix = uniquePrefix(label);
  let cleaned: Promise<void> | undefined;
  return {
    redis,
    prefix,
    url,
    cleanup: () => {
      cleaned ??= (async () => {
        try {
          await deleteKeysWithPrefix(redis, prefix);
        } finally {
          redis.disconnect();
        }
      })();
      return cleaned;
    },
  };
}
