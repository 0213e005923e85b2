import { describe, expect, it } from 'vitest';
import {
  ANONYMOUS_USER_PREFIX,
  anonymousUserId,
  isAnonymousUserId,
  isSessionUserId,
  isValidUserId,
} from '../src/index.js';

describe('user ids and the anon: namespace', () => {
  it('puts every anonymous path user under anon:, including ones that contain colons or anon: itself', () => {
    expect(ANONYMOUS_USER_PREFIX).toBe('anon:');
    expect(anonymousUserId('alice')).toBe('anon:alice');
    expect(anonymousUserId('tenant:7:alice')).toBe('anon:tenant:7:alice');
    // A path user that already looks namespaced is namespaced again: it can never equal a verified id.
    expect(anonymousUserId('anon:alice')).toBe('anon:anon:alice');
    expect(anonymousUserId('x'.repeat(128))).toHaveLength(133);
  });

  it('refuses to namespace a path user the user-id rule refuses', () => {
    for (const bad of ['', 'has space', '{tag}', 'x'.repeat(129)]) {
      expect(() => anonymousUserId(bad)).toThrow(TypeError);
    }
  });

  it('recognises the namespace by its exact prefix', () => {
    expect(isAnonymousUserId('anon:alice')).toBe(true);
    expect(isAnonymousUserId('anon:')).toBe(true);
    for (const id of ['anon', 'alice', 'ANON:alice', 'x:anon:alice', 'anonymous']) {
      expect(isAnonymousUserId(id)).toBe(false);
    }
  });

  it('accepts as a session user any valid id or anon: with a valid id, and nothing else', () => {
    expect(isSessionUserId('alice')).toBe(true);
    expect(isSessionUserId(`anon:${'x'.repeat(128)}`)).toBe(true);
    expect(isValidUserId(`anon:${'x'.repeat(128)}`)).toBe(false);
    for (const bad of ['', 'anon:', `anon:${'x'.repeat(129)}`, 'anon:{tag}', 'has space', 42, undefined]) {
      expect(isSessionUserId(bad)).toBe(false);
    }
  });
});
