import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findOnPath, freeLoopbackPort, pingRedis, resolveRedis } from './redis.mjs';

// Global setup has picked a Redis that answers; it stands in for "the local one" below.
const liveUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function deadUrl(): Promise<string> {
  return `redis://127.0.0.1:${await freeLoopbackPort()}`;
}

describe('pingRedis', () => {
  it('resolves against a live Redis and names the cause against a dead port', async () => {
    await expect(pingRedis(liveUrl)).resolves.toBeUndefined();
    await expect(pingRedis(await deadUrl())).rejects.toThrow('ECONNREFUSED');
  });

  it('rejects URLs that are not redis://', async () => {
    await expect(pingRedis('http://127.0.0.1:6379')).rejects.toThrow('unsupported scheme http:');
  });
});

describe('resolveRedis', () => {
  it('gives one clear line when REDIS_URL does not answer', async () => {
    const url = await deadUrl();
    const err = await resolveRedis({ env: { REDIS_URL: url } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`REDIS_URL=${url} does not answer PING (ECONNREFUSED)`);
    expect((err as Error).message).not.toContain('\n');
  });

  it('never prints a password from REDIS_URL', async () => {
    const port = new URL(await deadUrl()).port;
    const err = await resolveRedis({ env: { REDIS_URL: `redis://user:s3cret@127.0.0.1:${port}` } }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('uses REDIS_URL when it answers', async () => {
    const redis = await resolveRedis({ env: { REDIS_URL: liveUrl } });
    expect(redis).toMatchObject({ url: liveUrl, source: 'env' });
  });

  it("falls back to the local Redis when REDIS_URL is unset and it answers ('local')", async () => {
    const redis = await resolveRedis({ env: { PATH: process.env.PATH }, localUrl: liveUrl });
    expect(redis).toMatchObject({ url: liveUrl, source: 'local' });
    await redis.stop();
    await expect(pingRedis(liveUrl)).resolves.toBeUndefined();
  });

  it('says how to get Redis, in one line, when there is none at all', async () => {
    const err = await resolveRedis({ env: { PATH: '/nonexistent' }, localUrl: await deadUrl() }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(
      /redis-server is not on PATH.*REDIS_URL.*apt-get install redis-server/,
    );
    expect((err as Error).message).not.toContain('\n');
  });

  const binary = findOnPath('redis-server');
  it.runIf(binary)('spawns a private redis-server on a free port and stop() stops it', async () => {
    const lines: string[] = [];
    const redis = await resolveRedis({
      env: { PATH: process.env.PATH },
      localUrl: await deadUrl(),
      log: (l) => lines.push(l),
    });
    expect(redis.source).toBe('spawned');
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(redis.url).not.toBe(liveUrl);
    await expect(pingRedis(redis.url)).resolves.toBeUndefined();
    expect(lines.join('\n')).toContain(redis.url);
    await redis.stop();
    await expect(pingRedis(redis.url)).rejects.toThrow();
    await redis.stop(); // idempotent
  });
});

describe('findOnPath', () => {
  it('finds executables and ignores missing ones', () => {
    const node = findOnPath('node');
    expect(node && existsSync(node)).toBe(true);
    expect(findOnPath('definitely-not-a-binary-rtv')).toBeUndefined();
  });
});
