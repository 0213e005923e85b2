import { CLOSE_CODES, closeCodeInfo } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RECONNECT, reconnectDelay } from '../src/backoff.js';
import { handshakeFor } from '../src/socket.js';

const low = () => 0;
const high = () => 0.999_999;

describe('backoff', () => {
  it('doubles from the first step, keeps a floor of half the step and stops growing at the cap', () => {
    const opts = { initialDelayMs: 500, maxDelayMs: 10_000 };
    const floors = [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, opts, low));
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 50].map((n) => Math.round(backoffDelay(n, opts, high)));
    expect(floors).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('spreads clients that retry at the same attempt', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(3, DEFAULT_RECONNECT)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(1000);
  });

  it('follows the close code table: terminal codes never reconnect', () => {
    for (const spec of Object.values(CLOSE_CODES).filter((s) => !s.reconnect)) {
      expect(
        reconnectDelay(closeCodeInfo(spec.code), 1, DEFAULT_RECONNECT),
        `code ${spec.code}`,
      ).toBeUndefined();
    }
    // Unknown codes follow the ranges: 44xx are client errors (terminal), anything else is transient.
    expect(reconnectDelay(closeCodeInfo(4499), 1, DEFAULT_RECONNECT)).toBeUndefined();
    expect(reconnectDelay(closeCodeInfo(4999), 1, DEFAULT_RECONNECT, low)).toBe(250);
  });

  it('reconnects at once (within the first step) after a drain, with backoff after a failure', () => {
    const drain = closeCodeInfo(CLOSE_CODES.ServiceRestart.code);
    expect(reconnectDelay(drain, 4, DEFAULT_RECONNECT, high)).toBeLessThan(500);
    expect(reconnectDelay(drain, 4, DEFAULT_RECONNECT, low)).toBe(0);
    for (const code of [1001, 1006, 1011, 1013, 4429]) {
      expect(reconnectDelay(closeCodeInfo(code), 3, DEFAULT_RECONNECT, low), `code ${code}`).toBe(1000);
    }
  });

  it('gives up after maxAttempts', () => {
    const lost = closeCodeInfo(1006);
    const opts = { ...DEFAULT_RECONNECT, maxAttempts: 3 };
    expect(reconnectDelay(lost, 3, opts)).toBeDefined();
    expect(reconnectDelay(lost, 4, opts)).toBeUndefined();
    expect(reconnectDelay(lost, 1e6, { ...opts, maxAttempts: Number.POSITIVE_INFINITY })).toBeDefined();
  });
});

describe('handshake', () => {
  it('offers the protocol version first and carries a token as a header or as a subprotocol', () => {
    expect(handshakeFor(undefined, 'subprotocol')).toEqual({ protocols: ['rtv.v1'] });
    expect(handshakeFor('abc.DEF-123_~', 'header')).toEqual({
      protocols: ['rtv.v1'],
      headers: { authorization: 'Bearer abc.DEF-123_~' },
    });
    expect(handshakeFor('eyJhbGciOi.eyJzdWIi.sig', 'subprotocol')).toEqual({
      protocols: ['rtv.v1', 'rtv.bearer.eyJhbGciOi.eyJzdWIi.sig'],
    });
  });

  it('refuses a token that cannot be a Sec-WebSocket-Protocol value', () => {
    for (const bad of ['has space', 'comma,separated', 'slash/y', 'base64+with=', 'ünïcode']) {
      expect(() => handshakeFor(bad, 'subprotocol'), bad).toThrow(/Sec-WebSocket-Protocol/);
    }
  });
});
