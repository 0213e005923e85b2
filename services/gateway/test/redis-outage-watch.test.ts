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
    reader: {
      maintain: async () => {
        calls.push('maintain');
      },
    },
    router: { resendUnacked: () => calls.push('resendUnacked') },
    log: silentLog,
  });
  watch.start();
  return { redis, calls };
}

describe('RedisOutageWatch', () => {
  it('announces an outage once, and on reconnect repairs the out-stream and resends unacknowledged frames', () => {
    const { redis, calls } = setup();
    redis.emit('ready'); // the first connect is not a recovery
    expect(calls).toEqual([]);
    redis.emit('close');
    redis.emit('close'); // every reconnect attempt that fails closes again
    expect(calls).toEqual(['announceDegraded']);
    redis.emit('ready');
    expect(calls).toEqual(['announceDegraded', 'maintain', 'resendUnacked']);
    redis.emit('ready');
    expect(calls).toHaveLength(3);
  });

  it('stays quiet while the gateway drains', () => {
    const { redis, calls } = setup(true);
    redis.emit('close');
    redis.emit('ready');
    expect(calls).toEqual([]);
  });
});
