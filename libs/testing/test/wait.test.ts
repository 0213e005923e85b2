import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.js';

describe('waitFor', () => {
  it('resolves with the first truthy value, retrying through falsy values and throws', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls++;
        if (calls === 1) throw new Error('not yet');
        return calls >= 3 ? { calls } : false;
      },
      { intervalMs: 1 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('accepts 0 and empty strings as values (only undefined, null and false mean "not yet")', async () => {
    await expect(waitFor(() => 0)).resolves.toBe(0);
    await expect(waitFor(() => '')).resolves.toBe('');
  });

  it('times out naming the condition and the last error', async () => {
    const err = await waitFor(
      () => {
        throw new Error('still 2 sessions');
      },
      { timeoutMs: 30, intervalMs: 5, message: 'sessions drained' },
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      'waitFor timed out after 30 ms waiting for sessions drained: last error: still 2 sessions',
    );
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it('tries at least once even with a zero timeout', async () => {
    await expect(waitFor(async () => 'ok', { timeoutMs: 0 })).resolves.toBe('ok');
    await expect(waitFor(() => null, { timeoutMs: 0 })).rejects.toThrow('waiting for condition');
  });
});
