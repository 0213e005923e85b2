import { afterEach, describe, expect, it } from 'vitest';
import {
  createTestRedis,
  type TestRedis,
  testRedisUrl,
  testRunId,
  uniquePrefix,
  waitFor,
} from '../src/index.js';

const opened: TestRedis[] = [];
afterEach(async () => {
  for (const t of opened.splice(0)) await t.cleanup();
});

describe('test Redis helpers', () => {
  it('builds unique prefixes under the run id', () => {
    const a = uniquePrefix('gateway');
    const b = uniquePrefix('gateway');
    expect(a).toMatch(new RegExp(`^rtvt:${testRunId()}:gateway:[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
    expect(testRedisUrl()).toBe(process.env.REDIS_URL);
  });

  it('cleanup() deletes every key under its prefix and nothing else', async () => {
    const mine = await createTestRedis('mine');
    const other = await createTestRedis('other');
    opened.push(other);
    const { redis, prefix } = mine;
    // More keys than one SCAN batch, of several types, including a hash-tagged one.
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1200; i++) pipeline.set(`${prefix}:k:${i}`, 'v');
    pipeline.hset(`${prefix}:{sess:1}`, 'a', '1');
    pipeline.xadd(`${prefix}:stream`, '*', 'f', 'v');
    await pipeline.exec();
    await other.redis.set(`${other.prefix}:keep`, 'v');

    await mine.cleanup();
    await mine.cleanup(); // idempotent
    const [, left] = await other.redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
    expect(left).toEqual([]);
    expect(await other.redis.get(`${other.prefix}:keep`)).toBe('v');
    // disconnect() ends the client; its status reaches 'end' once the socket has closed.
    await waitFor(() => redis.status === 'end', { message: 'client ended' });
  });

  it('matches prefixes literally even when the label has glob characters', async () => {
    const t = await createTestRedis('a*b[1]');
    opened.push(t);
    const sibling = `${t.prefix.replace('a*b[1]', 'aXb1')}:x`;
    await t.redis.set(sibling, 'v');
    await t.redis.set(`${t.prefix}:x`, 'v');
    await t.cleanup();
    const check = await createTestRedis('check');
    opened.push(check);
    expect(await check.redis.get(sibling)).toBe('v');
    await check.redis.del(sibling);
  });
});
