// deleteKeysWithPrefix on a real 3-master Redis Cluster: every master holds some of the keys, and one UNLINK
// of keys from several slots would be refused, so the cleanup must scan each master and unlink per key.
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKeysWithPrefix,
  type RedisClusterHandle,
  startRedisCluster,
  uniquePrefix,
} from '../src/index.js';

describe('deleteKeysWithPrefix on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    client = new Cluster(cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port })));
    client.on('error', () => {});
    await new Promise<void>((resolve) => client.once('ready', resolve));
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  /** How many keys match `match` on each master, counted with SCAN on that node. */
  const keysPerMaster = (match: string) =>
    Promise.all(
      client.nodes('master').map(async (node) => {
        let found = 0;
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
          found += keys.length;
          cursor = next;
        } while (cursor !== '0');
        return found;
      }),
    );

  it('deletes every key of the prefix on every master, and nothing else', async () => {
    const prefix = uniquePrefix('cleanup');
    const other = `${uniquePrefix('other')}:keep`;
    // More keys than one SCAN batch per node, plain and hash-tagged, of several types.
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1500; i++) writes.push(client.set(`${prefix}:k:${i}`, 'v'));
    for (let i = 0; i < 30; i++) writes.push(client.hset(`${prefix}:sess:{s${i}}`, 'a', '1'));
    writes.push(client.xadd(`${prefix}:stream`, '*', 'f', 'v'), client.set(other, 'v'));
    await Promise.all(writes);
    const before = await keysPerMaster(`${prefix}*`);
    expect(before.every((n) => n > 0)).toBe(true);
    expect(before.reduce((a, b) => a + b, 0)).toBe(1531);

    expect(await deleteKeysWithPrefix(client, prefix)).toBe(1531);
    expect(await keysPerMaster(`${prefix}*`)).toEqual([0, 0, 0]);
    expect(await client.get(other)).toBe('v');
    expect(await deleteKeysWithPrefix(client, prefix)).toBe(0);
    expect(await deleteKeysWithPrefix(client, other)).toBe(1);
  });
});
