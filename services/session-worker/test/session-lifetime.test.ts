// The owner's side of a session's time limits: the maximum session length counted from the session's creation,
// the resume grace counted from the drop the record names, and the close of a socket the same user took the
// session away from on another gateway.
import { createKeys } from '@rtv/bus';
import { type BusLine, CloseCode } from '@rtv/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionRunner } from '../src/sessions/session-runner.js';
import { FakeProvider } from './helpers/fake-provider.js';
import { runnerHarness } from './helpers/runner-harness.js';

const keys = createKeys('t');
const gw1 = keys.gatewayOut('gw-1');

const runners: SessionRunner[] = [];
const providers: FakeProvider[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const r of runners.splice(0)) r.end('client_closed');
  for (const p of providers.splice(0)) await p.stop();
});

async function provider(): Promise<FakeProvider> {
  const p = await FakeProvider.start();
  providers.push(p);
  return p;
}

const closeLines = (lines: BusLine[]) =>
  lines.filter((l): l is Extract<BusLine, { op: 'X' }> => l.op === 'X');

describe('SessionRunner time limits', () => {
  it('ends a session at its creation plus the maximum length: session_expired, then close 4408 (fake clock)', async () => {
    const p = await provider();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    // Created 1 s ago (e.g. resumed or taken over since): 2 s are left of the 3 s maximum.
    const h = runnerHarness(p.url, {
      state: { createdMs: Date.now() - 1000 },
      deps: { maxSessionMs: 3000 },
    });
    runners.push(h.runner);
    await h.runner.start();
    await vi.advanceTimersByTimeAsync(1990);
    expect(closeLines(h.writer.lines(gw1))).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(await h.runner.done).toBe('max_duration');
    const errors = h.writer
      .lines(gw1)
      .filter((l): l is Extract<BusLine, { op: 'M' }> => l.op === 'M')
      .map((l) => JSON.parse(l.payload.toString('utf8')) as { type: string; error?: { code: string } })
      .filter((m) => m.type === 'error');
    expect(errors.map((m) => m.error?.code)).toEqual(['session_expired']);
    expect(closeLines(h.writer.lines(gw1))).toMatchObject([
      { sid: h.runner.sid, code: CloseCode.SessionTimeout },
    ]);
  });

  it('with no maximum (0) a session does not expire', async () => {
    const p = await provider();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const h = runnerHarness(p.url, {
      state: { createdMs: Date.now() - 10 * 3600_000 },
      deps: { maxSessionMs: 0 },
    });
    runners.push(h.runner);
    await h.runner.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(closeLines(h.writer.lines(gw1))).toEqual([]);
  });

  it('a session claimed detached keeps only what is left of the grace since the recorded drop (fake clock)', async () => {
    const p = await provider();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const h = runnerHarness(p.url, {
      state: { clientAttached: false, detachedMs: Date.now() - 20_000 },
      deps: { resumeGraceMs: 30_000 },
    });
    runners.push(h.runner);
    let ended: string | undefined;
    void h.runner.done.then((r) => {
      ended = r;
    });
    await h.runner.start();
    await vi.advanceTimersByTimeAsync(9_900);
    expect(ended).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(ended).toBe('resume_timeout');
  });

  it('a takeover from a live socket on another gateway closes that socket there with 4409', async () => {
    const p = await provider();
    const h = runnerHarness(p.url, {});
    runners.push(h.runner);
    await h.runner.start();
    h.runner.resume('gw-2', 0);
    expect(closeLines(h.writer.lines(gw1))).toMatchObject([
      { sid: h.runner.sid, code: CloseCode.SessionResumedElsewhere },
    ]);
    // A resume of a detached session (the usual case) closes nothing.
    h.runner.detach('gw-2');
    h.runner.resume('gw-1', 0);
    expect(closeLines(h.writer.lines(keys.gatewayOut('gw-2')))).toEqual([]);
  });
});
