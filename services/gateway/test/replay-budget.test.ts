import { describe, expect, it } from 'vitest';
import { GatewayReplayBudget } from '../src/routing/replay-budget.js';

/** Holdings set by the test, as the registry would report them. */
function holdings(bytes: number, holders: number) {
  const state = { bytes, holders };
  return { state, source: { replayTotals: () => ({ ...state }) } };
}

describe('GatewayReplayBudget', () => {
  it('admits everything below the budget, counting what it admitted until the next reading', () => {
    const { source } = holdings(0, 4);
    const budget = new GatewayReplayBudget(source, 1000);
    budget.refresh();
    for (let i = 0; i < 10; i++) expect(budget.admits(0, 100)).toBe(true);
    // A burst between two readings counts at once: the budget is spent, and a session above its share (250) is
    // refused before the next reading.
    expect(budget.admits(300, 100)).toBe(false);
    expect(budget.admits(100, 100)).toBe(true);
  });

  it('above the budget, admits a session up to its equal share and refuses one above it', () => {
    const { state, source } = holdings(1200, 3);
    const budget = new GatewayReplayBudget(source, 1200);
    budget.refresh();
    expect(budget.admits(300, 100)).toBe(true); // 400 ≤ 1200 / 3
    expect(budget.admits(350, 100)).toBe(false); // 450 > 400
    expect(budget.admits(0, 100)).toBe(true);
    // Once the sessions let go (acknowledgements, closes), the next reading admits again.
    state.bytes = 500;
    state.holders = 2;
    expect(budget.admits(900, 100)).toBe(false);
    budget.refresh();
    expect(budget.admits(900, 100)).toBe(true);
  });

  it('reads the holdings on its timer until stopped', async () => {
    const { state, source } = holdings(5000, 1);
    const budget = new GatewayReplayBudget(source, 1000, 10);
    budget.start();
    try {
      expect(budget.admits(5000, 1)).toBe(false);
      state.bytes = 0;
      await new Promise((r) => setTimeout(r, 50));
      expect(budget.admits(0, 1)).toBe(true);
    } finally {
      budget.stop();
    }
    state.bytes = 5000;
    await new Promise((r) => setTimeout(r, 50));
    expect(budget.admits(0, 999)).toBe(true);
  });
});
