// The launcher's Redis check with RTV_REDIS_MODE=cluster and sentinel, against a real 3-master Redis Cluster
// and a real sentinel: REDIS_URL lists the endpoints, one good answer suffices, nothing is ever started in
// their place, and a failure is one line naming REDIS_URL with each endpoint's reason.
import {
  type RedisClusterHandle,
  type RedisSentinelHandle,
  startRedisCluster,
  startRedisSentinel,
} from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClusterNode, checkSentinel, freeLoopbackPort, redactRedisUrl, resolveRedis } from './redis.mjs';

// Global setup has picked a Redis that answers: a plain one, with cluster support disabled.
const plainUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function deadUrl(): Promise<string> {
  return `redis://127.0.0.1:${await freeLoopbackPort()}`;
}

/** The error `resolveRedis` rejects with for `env`; fails the test if it resolves. */
async function refusal(env: NodeJS.ProcessEnv): Promise<string> {
  const err = await resolveRedis({ env: { PATH: process.env.PATH, ...env }, localUrl: plainUrl }).then(
    (resolved) => new Error(`resolved to ${resolved.url} (${resolved.source})`),
    (e: Error) => e,
  );
  expect(err.message).not.toContain('\n');
  expect(err.message).not.toMatch(/^resolved to/);
  return err.message;
}

describe('resolveRedis with RTV_REDIS_MODE=cluster', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('uses REDIS_URL as given when one listed node answers with cluster_state:ok', async () => {
    const url = `${await deadUrl()}, ${cluster.seedUrls[1]}`;
    const lines: string[] = [];
    const redis = await resolveRedis({
      env: { RTV_REDIS_MODE: 'cluster', REDIS_URL: url },
      log: (l) => lines.push(l),
    });
    expect(redis).toMatchObject({ url, source: 'env' });
    expect(lines.join('\n')).toContain(`using Redis Cluster from REDIS_URL`);
    expect(lines.join('\n')).toContain(`${cluster.seedUrls[1]} answers`);
    await redis.stop(); // a no-op: the launcher owns no part of a cluster
    await expect(checkClusterNode(cluster.seedUrls[1]!)).resolves.toBeUndefined();
  });

  it('never starts a Redis in its place, and names REDIS_URL and every reason when no node will do', async () => {
    expect(await refusal({ RTV_REDIS_MODE: 'cluster' })).toBe(
      "RTV_REDIS_MODE=cluster needs REDIS_URL, a comma-separated list of the cluster's nodes; the launcher starts no Redis in this mode",
    );
    const dead = await deadUrl();
    const message = await refusal({ RTV_REDIS_MODE: 'cluster', REDIS_URL: `${dead},${plainUrl}` });
    expect(message).toMatch(
      /^REDIS_URL lists no cluster node that answers with cluster_state:ok \(RTV_REDIS_MODE=cluster\)/,
    );
    expect(message).toContain(`${dead} (ECONNREFUSED)`);
    expect(message).toContain(`${plainUrl} (cluster support disabled)`);
    expect(message).toMatch(/start the cluster or fix REDIS_URL$/);
  });

  it('never prints a password from REDIS_URL', async () => {
    const port = new URL(await deadUrl()).port;
    const url = `redis://user:s3cret@127.0.0.1:${port},redis://:other-s3cret@127.0.0.1:${port}`;
    const message = await refusal({ RTV_REDIS_MODE: 'cluster', REDIS_URL: url });
    expect(message).not.toContain('s3cret');
    expect(redactRedisUrl(url)).toBe(`redis://user:***@127.0.0.1:${port},redis://:***@127.0.0.1:${port}`);
  });

  it('refuses a cluster that lost a master (cluster_state:fail)', async () => {
    const killed = await cluster.killMaster();
    const survivors = cluster.seedUrls.filter((url) => !url.endsWith(`:${killed}`));
    // The survivors mark the cluster failed once the node timeout (1 s) has passed.
    await expect
      .poll(
        () =>
          checkClusterNode(survivors[0]!).then(
            () => 'ok',
            (e: Error) => e.message,
          ),
        { timeout: 15_000 },
      )
      .toBe('cluster_state:fail');
    const message = await refusal({ RTV_REDIS_MODE: 'cluster', REDIS_URL: cluster.url });
    expect(message).toContain(`${survivors[0]} (cluster_state:fail)`);
    expect(message).toContain(`127.0.0.1:${killed} (ECONNREFUSED)`);
  });
});

describe('resolveRedis with RTV_REDIS_MODE=sentinel', () => {
  let sentinel: RedisSentinelHandle;

  beforeAll(async () => {
    sentinel = await startRedisSentinel({ replicas: 0, sentinels: 1, masterName: 'rtv-launcher' });
  }, 60_000);
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('uses REDIS_URL when one listed sentinel answers and knows RTV_REDIS_SENTINEL_MASTER', async () => {
    const url = `${await deadUrl()},${sentinel.url}`;
    const env = { RTV_REDIS_MODE: 'sentinel', REDIS_URL: url, RTV_REDIS_SENTINEL_MASTER: 'rtv-launcher' };
    const lines: string[] = [];
    const redis = await resolveRedis({ env, log: (l) => lines.push(l) });
    expect(redis).toMatchObject({ url, source: 'env' });
    expect(lines.join('\n')).toContain('using Redis master rtv-launcher via sentinel from REDIS_URL');
    await expect(checkSentinel(sentinel.url, 'rtv-launcher')).resolves.toBeUndefined();
  });

  it('names REDIS_URL, the master name and every reason when no sentinel will do', async () => {
    expect(
      await refusal({ RTV_REDIS_MODE: 'sentinel', RTV_REDIS_SENTINEL_MASTER: 'rtv-launcher' }),
    ).toContain('RTV_REDIS_MODE=sentinel needs REDIS_URL, a comma-separated list of the sentinels');
    expect(await refusal({ RTV_REDIS_MODE: 'sentinel', REDIS_URL: sentinel.url })).toBe(
      'RTV_REDIS_MODE=sentinel needs RTV_REDIS_SENTINEL_MASTER, the name the sentinels monitor',
    );
    const dead = await deadUrl();
    const message = await refusal({
      RTV_REDIS_MODE: 'sentinel',
      REDIS_URL: `${dead},${sentinel.url}`,
      RTV_REDIS_SENTINEL_MASTER: 'not-monitored',
    });
    expect(message).toMatch(/^REDIS_URL lists no sentinel that answers for master not-monitored/);
    expect(message).toContain(`${dead} (ECONNREFUSED)`);
    expect(message).toContain(`${sentinel.url} (no master named not-monitored)`);
    expect(message).toMatch(/start the sentinels or fix REDIS_URL$/);
  });

  it('refuses an unknown RTV_REDIS_MODE before trying anything', async () => {
    expect(await refusal({ RTV_REDIS_MODE: 'shards', REDIS_URL: plainUrl })).toBe(
      'RTV_REDIS_MODE=shards: expected single, cluster or sentinel',
    );
  });
});
