import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RedisOutageWatch } from '../src/redis-outage-watch.js';
import { silentLog } from './helpers.js';

function setup(draining = false) {
  const redis = new EventEmitter();
  const calls: string[] = [];
  const watch = new RedisOutageWatch({
    redis,
    readiness: { draining },
    lifecycle: { announceDegraded: () => calls.push('announceDegraded') },
    recovery: {
      beginOutage: () => calls.push('beginOutage'),
      start: () => calls.push('start'),
    },
    log: silentLog,
  });
  watch.start();
  return { redis, calls };
}

describe('RedisOutageWatch', () => {
  it('announces an outage once and keeps the sessions; on reconnect it starts their recovery', () => {
    const { redis, calls } = setup();
    redis.emit('ready'); // the first connect is not a recovery
    expect(calls).toEqual([]);
    redis.emit('close');
    redis.emit('close'); // every reconnect attempt that fails closes again
    expect(calls).toEqual(['beginOutage', 'announceDegraded']);
    redis.emit('ready');
    expect(calls).toEqual(['beginOutage', 'announceDegraded', 'start']);
    redis.emit('ready');
    expect(calls).toHaveLength(3);
    // Redis flaps: another outage, another recovery start (the recovery keeps its first bound).
    redis.emit('close');
    redis.emit('ready');
    expect(calls.slice(3)).toEqual(['beginOutage', 'announceDegraded', 'start']);
  });

  it('stays quiet while the gateway drains', () => {
    const { redis, calls } = setup(true);
    redis.emit('close');
    redis.emit('ready');
    expect(calls).toEqual([]);
  });
});
