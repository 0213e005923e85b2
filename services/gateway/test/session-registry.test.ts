import { describe, expect, it } from 'vitest';
import { ClientSessionRegistry } from '../src/routing/session-registry.js';
import { newSession } from './helpers.js';

const SID_A = 'sess_aaaaaaaaaaaaaaaaaaaaa';
const SID_B = 'sess_bbbbbbbbbbbbbbbbbbbbb';

describe('ClientSessionRegistry', () => {
  it('adds, finds, counts and removes sessions by sid', () => {
    const registry = new ClientSessionRegistry();
    const a = newSession(SID_A);
    const b = newSession(SID_B);
    expect(registry.count()).toBe(0);
    expect(registry.get(SID_A)).toBeUndefined();
    registry.add(a);
    registry.add(b);
    expect(registry.count()).toBe(2);
    expect(registry.get(SID_A)).toBe(a);
    expect(registry.holds(b)).toBe(true);
    expect([...registry.values()]).toEqual([a, b]);
    expect(registry.remove(a)).toBe(true);
    expect(registry.remove(a)).toBe(false);
    expect(registry.get(SID_A)).toBeUndefined();
    expect(registry.count()).toBe(1);
  });

  it('a newer session for the same sid replaces the older; the older one can no longer remove it', () => {
    const registry = new ClientSessionRegistry();
    const older = newSession(SID_A);
    const newer = newSession(SID_A);
    registry.add(older);
    registry.add(newer);
    expect(registry.count()).toBe(1);
    expect(registry.get(SID_A)).toBe(newer);
    expect(registry.holds(older)).toBe(false);
    expect(registry.remove(older)).toBe(false);
    expect(registry.get(SID_A)).toBe(newer);
    expect(registry.remove(newer)).toBe(true);
    expect(registry.count()).toBe(0);
  });

  it('snapshot is a copy: a loop over it may remove every session', () => {
    const registry = new ClientSessionRegistry();
    const sessions = [SID_A, SID_B, 'sess_ccccccccccccccccccccc'].map((sid) => newSession(sid));
    for (const s of sessions) registry.add(s);
    const seen = [];
    for (const s of registry.snapshot()) {
      seen.push(s);
      registry.remove(s);
    }
    expect(seen).toEqual(sessions);
    expect(registry.count()).toBe(0);
    expect(registry.snapshot()).toEqual([]);
  });
});
