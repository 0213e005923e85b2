// Provider outages on a time budget (issue #16): the backoff and budget on a fake clock, a provider that stays
// away longer than the old five attempts lasted, the user's uncommitted turn re-sent into the new provider
// session, and the notices a client gets around a reconnect.
import type { HistoryItem } from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from '@rtv/protocol';
import { freePort, waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../src/metrics.js';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { ProviderSession, type ProviderSessionOptions } from '../src/upstream/provider-session.js';
import { RetryBudget } from '../src/upstream/retry-budget.js';
import { UncommittedTurn } from '../src/upstream/uncommitted-turn.js';
import { FakeProvider, freshRegistry, metricValue, silentLogger } from './helpers/fake-provider.js';
import { runnerHarness } from './helpers/runner-harness.js';

const config: SessionConfig = { ...DEFAULT_SESSION_CONFIG };
const history: HistoryItem[] = [{ role: 'user', type: 'text', text: 'Hello', at: 1 }];
const append = (audio: string) => Buffer.from(`{"type":"input_audio_buffer.append","audio":"${audio}"}`);

const sessions: ProviderSession[] = [];
const providers: FakeProvider[] = [];
const runners: SessionRunner[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const s of sessions.splice(0)) s.close();
  for (const p of providers.splice(0)) await p.stop();
});

async function startProvider(port?: number): Promise<FakeProvider> {
  const provider = await FakeProvider.start({ port });
  providers.push(provider);
  return provider;
}

function providerSession(url: string, overrides: Partial<ProviderSessionOptions> = {}) {
  const registry = freshRegistry();
  const h = {
    registry,
    events: [] as string[],
    reconnecting: 0,
    unavailable: 0,
    connects: [] as boolean[],
    session: undefined as unknown as ProviderSession,
  };
  h.session = new ProviderSession({
    url,
    model: 'gpt-realtime',
    shape: 'ga',
    log: silentLogger(),
    metrics: createWorkerMetrics(registry),
    onEvent: (raw) => h.events.push(raw.toString('utf8')),
    onReconnecting: () => h.reconnecting++,
    onUnavailable: () => h.unavailable++,
    onConnect: (ok) => h.connects.push(ok),
    context: async () => ({ config, history }),
    backoffMs: 5,
    ...overrides,
  });
  sessions.push(h.session);
  return h;
}

/** A fake millisecond clock. */
function fakeClock() {
  const clock = { t: 1000, now: () => clock.t };
  return clock;
}

describe('RetryBudget', () => {
  it('doubles the delay ceiling per attempt up to the cap, with full jitter', () => {
    const clock = fakeClock();
    const high = new RetryBudget(
      { budgetMs: 1e9, baseMs: 200, capMs: 5000, random: () => 0.9999 },
      clock.now,
    );
    const delays = Array.from({ length: 8 }, () => high.nextDelay());
    expect(delays).toEqual([199, 399, 799, 1599, 3199, 4999, 4999, 4999]);
    // Far past the point where 2ⁿ overflows, the cap still holds.
    for (let i = 0; i < 2000; i++) high.nextDelay();
    expect(high.nextDelay()).toBe(4999);
    // Full jitter: the low end of the range is zero, not half the ceiling.
    const low = new RetryBudget({ budgetMs: 1e9, baseMs: 200, capMs: 5000, random: () => 0 }, clock.now);
    expect([low.nextDelay(), low.nextDelay(), low.nextDelay()]).toEqual([0, 0, 0]);
  });

  it('keeps retrying until the budget since the outage began is spent, then gives up', () => {
    const clock = fakeClock();
    const start = clock.t;
    const budget = new RetryBudget(
      { budgetMs: 30_000, baseMs: 200, capMs: 5000, random: () => 0.5 },
      clock.now,
    );
    let attempts = 0;
    for (;;) {
      attempts++;
      clock.t += 50; // the failed connect attempt itself
      const delay = budget.nextDelay();
      if (delay === undefined) break;
      clock.t += delay;
    }
    // Far more than the five attempts that used to run out within about two seconds.
    expect(attempts).toBeGreaterThan(5);
    expect(clock.t - start).toBeGreaterThanOrEqual(30_000);
    // The last delay was cut to end with the budget: one last attempt right at its end, then no more.
    expect(clock.t - start).toBeLessThanOrEqual(30_000 + 50);
    expect(budget.remainingMs).toBe(0);
  });

  it('cuts a delay that would reach past the budget to what is left of it', () => {
    const clock = fakeClock();
    const budget = new RetryBudget(
      { budgetMs: 1000, baseMs: 4000, capMs: 5000, random: () => 0.9999 },
      clock.now,
    );
    clock.t += 900;
    expect(budget.nextDelay()).toBe(100);
    clock.t += 100;
    expect(budget.nextDelay()).toBeUndefined();
  });
});

describe('UncommittedTurn', () => {
  it('keeps the appends since the last commit, newest first kept within its byte bound', () => {
    const one = append('AAAA');
    const turn = new UncommittedTurn(one.length * 2);
    turn.sent(append('AAAA'));
    turn.sent(append('BBBB'));
    turn.sent(append('CCCC'));
    expect(turn.take().map((b) => b.toString())).toEqual([append('BBBB'), append('CCCC')].map(String));
    expect(turn.size).toBe(0);
    turn.sent(append('DDDD'));
    turn.sent('{"type":"input_audio_buffer.commit"}');
    expect(turn.size).toBe(0);
    turn.sent(append('EEEE'));
    turn.heard('{"type":"input_audio_buffer.speech_stopped","event_id":"e1"');
    expect(turn.size).toBe(0);
    turn.sent(append('FFFF'));
    turn.heard('{"type":"response.output_audio.delta","delta":"');
    expect(turn.size).toBe(1);
    const none = new UncommittedTurn(0);
    none.sent(append('GGGG'));
    expect(none.size).toBe(0);
  });
});

describe('UncommittedTurn storage', () => {
  it('keeps copies of the appends, byte for byte, so a sent buffer reused afterwards changes nothing', () => {
    const turn = new UncommittedTurn(1024 * 1024);
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      // 40 appends of 1,300 bytes: the kept bytes span several of the ring's 16 KiB chunks.
      const audio = String.fromCharCode(65 + (i % 26)).repeat(1300 - append('').length);
      const raw = append(audio);
      sent.push(Buffer.from(raw));
      turn.sent(raw);
      raw.fill(0x20); // the sender's buffer is reused for something else
    }
    expect(turn.size).toBe(40);
    expect(turn.bytes).toBe(40 * 1300);
    const taken = turn.take();
    expect(taken.map((b) => b.toString())).toEqual(sent.map((b) => b.toString()));
    expect(turn.size).toBe(0);
    expect(turn.bytes).toBe(0);
  });

  it('keeps text appends too, and drops a single append larger than its whole bound with everything before it', () => {
    const turn = new UncommittedTurn(100);
    turn.sent(`{"type":"input_audio_buffer.append","audio":"${'Q'.repeat(40)}"}`);
    expect(turn.size).toBe(1);
    turn.sent(append('Z'.repeat(200)));
    expect(turn.size).toBe(0);
    turn.sent(`{"type":"input_audio_buffer.append","audio":"${'R'.repeat(10)}"}`);
    expect(turn.take().map(String)).toEqual([
      `{"type":"input_audio_buffer.append","audio":"${'R'.repeat(10)}"}`,
    ]);
  });
});

describe('ProviderSession on a retry budget', () => {
  it('rides out a provider that is away longer than five attempts lasted, and reconnects when it is back', async () => {
    const port = await freePort();
    const first = await startProvider(port);
    const h = providerSession(first.url, { backoffMs: 200, retryBudgetMs: 30_000 });
    expect(await h.session.open(false)).toBe(true);
    await first.stop();
    await waitFor(() => h.reconnecting === 1, { message: 'reconnecting' });
    // The old loop made five attempts 0.2 + 0.4 + 0.8 + 1.6 s (at most) apart: it had given up by 3 s.
    await new Promise((r) => setTimeout(r, 3500));
    expect(h.unavailable).toBe(0);
    const second = await startProvider(port);
    await waitFor(() => second.typesOn(1).length > 0, { message: 'reconnected', timeoutMs: 10_000 });
    expect(second.typesOn(1)[0]).toBe('session.update');
    expect(h.connects).toEqual([true, true]);
    expect(h.unavailable).toBe(0);
  });

  it('gives up when the budget is spent, and only then', async () => {
    const port = await freePort();
    const h = providerSession(`ws://127.0.0.1:${port}/v1/realtime`, { backoffMs: 1, retryBudgetMs: 600 });
    const started = performance.now();
    expect(await h.session.open(false)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(600);
    expect(h.unavailable).toBe(1);
    expect(h.connects).toEqual([false]);
    expect(
      await metricValue(h.registry, 'rtv_worker_upstream_errors_total', { code: 'connect_retryable' }),
    ).toBeGreaterThan(1);
  });

  it('re-sends the uncommitted turn to the new provider session before what was queued meanwhile', async () => {
    const provider = await startProvider();
    const h = providerSession(provider.url);
    expect(await h.session.open(false)).toBe(true);
    h.session.offer(append('AAAA'));
    h.session.offer(append('BBBB'));
    await provider.waitForEvents(1, 3);

    provider.configure({ onConnect: 'hold' });
    provider.drop(1);
    await provider.waitForConnections(2);
    expect(h.session.offer(append('CCCC'))).toBe(true);
    provider.sendCreated(2);
    const audioOn = (conn: number) =>
      provider.eventsOn(conn, 'input_audio_buffer.append').map((e) => e.event.audio);
    await waitFor(() => audioOn(2).length === 3, { message: 'appends on the new provider session' });
    expect(audioOn(2)).toEqual(['AAAA', 'BBBB', 'CCCC']);
    // Context first, then the turn: the appends come after the session.update and the history.
    expect(provider.typesOn(2).slice(0, 2)).toEqual(['session.update', 'conversation.item.create']);

    // A committed turn is the provider's: it is not sent again; what came after the commit is.
    h.session.send('{"type":"input_audio_buffer.commit"}');
    h.session.offer(append('DDDD'));
    await waitFor(() => audioOn(2).length === 4, { message: 'DDDD sent' });
    provider.drop(2);
    await provider.waitForConnections(3);
    provider.sendCreated(3);
    await waitFor(() => audioOn(3).length === 1, { message: 'DDDD re-sent' });
    expect(audioOn(3)).toEqual(['DDDD']);

    // The provider committing the turn itself (server VAD) ends it too.
    provider.send(3, { type: 'input_audio_buffer.speech_stopped', event_id: 'e_vad', audio_end_ms: 100 });
    await waitFor(() => h.events.some((e) => e.includes('speech_stopped')), { message: 'speech_stopped' });
    provider.drop(3);
    await provider.waitForConnections(4);
    provider.sendCreated(4);
    await waitFor(() => provider.typesOn(4).includes('session.update'), { message: 'conn 4 restored' });
    await waitFor(() => h.connects.length === 4, { message: 'conn 4 adopted' });
    expect(audioOn(4)).toEqual([]);
  });
});

describe('SessionRunner around a provider outage', () => {
  it('tells the client upstream_reconnecting, then upstream_recovered once the new provider session is up', async () => {
    const provider = await startProvider();
    const h = runnerHarness(provider.url);
    runners.push(h.runner);
    await h.runner.start();
    await provider.waitForEvents(1, 1);
    provider.drop(1);
    await provider.waitForConnections(2);
    const notices = () =>
      h
        .messages()
        .filter((m) => m.type === 'session.notice')
        .map((m) => (m.notice as { code: string }).code);
    await waitFor(() => notices().includes('upstream_recovered'), { message: 'recovered notice' });
    expect(notices()).toEqual(['upstream_reconnecting', 'upstream_recovered']);
  });
});
