export interface WaitForOptions {
  /**
   * Give up after this long; keep it under the test timeout so the failure names the condition.
   * @defaultValue 5000
   */
  timeoutMs?: number;
  /**
   * Pause between attempts.
   * @defaultValue 25
   */
  intervalMs?: number;
  /** Names the condition in the timeout error ("worker-1 owns the session"). */
  message?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `fn` until it returns a value other than `undefined`, `null` or `false` and resolves with that
 * value. A throw counts as "not yet". On timeout, rejects with the condition's name and the last error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 25, message = 'condition' }: WaitForOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const detail = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
  throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${message}${detail}`, {
    cause: lastError,
  });
}
