import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** Tokens a user may spend per fixed window of `windowS` seconds. */
export interface TokenBudget {
  tokens: number;
  windowS: number;
}

/** A user's standing in the current window after a spend. */
export interface TokenBudgetState {
  /** Tokens spent in the current window, this spend included. */
  spent: number;
  /** Tokens left in the current window; 0 once the budget is used up (never negative). */
  remaining: number;
  /** Whether the budget is used up: `spent >= budget.tokens`, so the next response would go over it. */
  exhausted: boolean;
}

export interface TokenBudgetsOptions {
  /**
   * How long a window's counter outlives the window's end, so a node whose clock runs a little behind still
   * adds to (and reads) the counter the others used.
   * @defaultValue 10 000
   */
  graceMs?: number;
  /** Clock (Unix ms). @defaultValue Date.now */
  now?: () => number;
}

const DEFAULT_GRACE_MS = 10_000;

/**
 * Per-user token budgets of the OpenAI-compatible route, shared by every worker through Redis. Windows are
 * fixed (window index = floor(now / windowS)): a counter per user and window (`keys.budget`) that each
 * `response.done` adds its usage `total_tokens` to, and that expires shortly after its window ends, so nothing
 * needs cleaning up. Single-key commands only (one MULTI on one key), so it runs unchanged on Redis Cluster.
 *
 * Spending is after the fact (the usage is known once the response is done): a response started just under the
 * budget may take the user over it; `exhausted` tells the caller to refuse the next one.
 */
export class TokenBudgets {
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    options: TokenBudgetsOptions = {},
  ) {
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.now = options.now ?? Date.now;
    if (!Number.isSafeInteger(this.graceMs) || this.graceMs < 0) {
      throw new RangeError('graceMs must be a non-negative integer');
    }
  }

  /** Adds `tokens` to the user's current window (INCRBY and PEXPIRE in one MULTI) and returns the standing. */
  async spend(userId: string, tokens: number, budget: TokenBudget): Promise<TokenBudgetState> {
    checkBudget(budget);
    if (!Number.isSafeInteger(tokens) || tokens < 0)
      throw new RangeError('tokens must be a non-negative integer');
    const now = this.now();
    const { key, endMs } = this.window(userId, budget, now);
    const replies = await this.redis
      .multi()
      .incrby(key, tokens)
      .pexpire(key, endMs - now + this.graceMs)
      .exec();
    if (!replies) throw new Error(`token budget of ${userId}: the MULTI was aborted`);
    const [incr, expire] = replies;
    const failure = incr?.[0] ?? expire?.[0];
    if (failure) throw failure;
    return standing(Number(incr?.[1]), budget);
  }

  /** Tokens the user has left in the current window (the whole budget when nothing was spent yet). */
  async remaining(userId: string, budget: TokenBudget): Promise<number> {
    checkBudget(budget);
    const spent = await this.redis.get(this.window(userId, budget, this.now()).key);
    return standing(spent === null ? 0 : Number(spent), budget).remaining;
  }

  private window(userId: string, budget: TokenBudget, now: number): { key: string; endMs: number } {
    if (userId === '') throw new RangeError('userId must not be empty');
    const windowMs = budget.windowS * 1000;
    const index = Math.floor(now / windowMs);
    return { key: this.keys.budget(userId, index), endMs: (index + 1) * windowMs };
  }
}

function standing(spent: number, budget: TokenBudget): TokenBudgetState {
  return { spent, remaining: Math.max(0, budget.tokens - spent), exhausted: spent >= budget.tokens };
}

function checkBudget(budget: TokenBudget): void {
  if (!Number.isSafeInteger(budget.tokens) || budget.tokens <= 0) {
    throw new RangeError('budget.tokens must be a positive integer');
  }
  if (!Number.isSafeInteger(budget.windowS) || budget.windowS <= 0) {
    throw new RangeError('budget.windowS must be a positive integer');
  }
}
