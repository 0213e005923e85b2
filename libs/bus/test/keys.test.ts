import { createKeys, randomId } from '@rtv/bus';
import { describe, expect, it } from 'vitest';

describe('keys', () => {
  it('builds every key from the prefix, each with the hash tag that decides its cluster slot', () => {
    const k = createKeys('rtv');
    expect(k.gateway('g1')).toBe('rtv:{members}:gw:g1');
    expect(k.gateways()).toBe('rtv:{members}:gateways');
    expect(k.worker('w1')).toBe('rtv:{members}:wk:w1');
    expect(k.workers()).toBe('rtv:{members}:workers');
    // Streams carry no tag: each is a slot of its own, so the frame traffic spreads over the shards.
    expect(k.gatewayOut('g1')).toBe('rtv:gw:g1:out');
    expect(k.workerIn('w1')).toBe('rtv:wk:w1:in');
    expect(k.session('sess_a')).toBe('rtv:sess:{sess_a}');
    expect(k.sessionHistory('sess_a')).toBe('rtv:sess:{sess_a}:history');
    expect(k.userConnections('alice')).toBe('rtv:user:{alice}:conns');
    expect(k.resumeSecret()).toBe('rtv:resume-secret');
    expect(k.budget('alice', 7)).toBe('rtv:budget:{alice}:7');
    // BullMQ's keys must share one slot on a cluster.
    expect(k.bullPrefix).toBe('{rtv:bull}');
  });

  it('refuses prefixes that would break key parsing or glob matching', () => {
    expect(() => createKeys('')).toThrow(/invalid Redis key prefix/);
    expect(() => createKeys('a b')).toThrow(/invalid Redis key prefix/);
    expect(() => createKeys('rtv*')).toThrow(/invalid Redis key prefix/);
    // A tag in the prefix would put every key of the deployment in one cluster slot.
    expect(() => createKeys('{rtv}')).toThrow(/no braces/);
  });

  it('makes unbiased base62 ids of the requested length', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => randomId('sess_')));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^sess_[0-9A-Za-z]{21}$/);
  });
});
