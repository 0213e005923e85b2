// The runner's bookkeeping classes on their own: the turn queue, client config updates and their answers,
// the ordered history writer, function-call bookkeeping, the provider request map.
import type { HistoryItem } from '@rtv/bus';
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from '@rtv/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigUpdates, type PendingUpdate } from '../src/sessions/config-updates.js';
import { HistoryLog } from '../src/sessions/history-log.js';
import { ProviderRequests } from '../src/sessions/provider-requests.js';
import { ToolCalls } from '../src/sessions/tool-calls.js';
import { type Turn, TurnQueue } from '../src/sessions/turn-queue.js';

afterEach(() => {
  vi.useRealTimers();
});

const text = (t: string): Turn => ({ kind: 'text', text: t });

describe('TurnQueue', () => {
  it('sends at once when idle, queues during a response, sends in order as responses end', () => {
    const sent: Turn[] = [];
    const q = new TurnQueue((t) => sent.push(t), 2);
    expect(q.submit(text('a'))).toBe(true);
    expect(q.busy).toBe(true);
    expect(q.submit(text('b'))).toBe(true);
    expect(q.submit(text('c'))).toBe(true);
    expect(q.submit(text('d'))).toBe(false);
    q.responseCreated();
    q.responseDone();
    expect(sent).toEqual([text('a'), text('b')]);
    q.responseCreated();
    q.responseDone();
    expect(sent.map((t) => (t.kind === 'text' ? t.text : t.kind))).toEqual(['a', 'b', 'c']);
  });

  it('an interrupt goes first and asks for one cancel per response', () => {
    const sent: Turn[] = [];
    const q = new TurnQueue((t) => sent.push(t));
    expect(q.interrupt(text('now'))).toBe('sent');
    q.submit(text('later'));
    expect(q.interrupt(text('stop'))).toBe('cancel');
    expect(q.interrupt(text('stop again'))).toBe('queued');
    q.responseDone();
    q.responseDone();
    q.responseDone();
    expect(sent.map((t) => (t.kind === 'text' ? t.text : t.kind))).toEqual([
      'now',
      'stop',
      'stop again',
      'later',
    ]);
  });

  it('a refused request is asked again after the response in progress; a lost provider clears the state', () => {
    const sent: Turn[] = [];
    const q = new TurnQueue((t) => sent.push(t));
    q.submit(text('a'));
    q.refused();
    expect(sent).toHaveLength(1);
    q.responseDone();
    expect(sent.map((t) => t.kind)).toEqual(['text', 'respond']);
    q.submit(text('b'));
    q.lost();
    expect(q.busy).toBe(false);
    q.drain();
    expect(sent).toHaveLength(3);
  });
});

describe('ConfigUpdates', () => {
  function updates() {
    let committed: SessionConfig = { ...DEFAULT_SESSION_CONFIG };
    const sent: Array<Record<string, unknown>> = [];
    const commits: PendingUpdate[] = [];
    let n = 0;
    const configs = new ConfigUpdates({
      shape: 'ga',
      committed: () => committed,
      send: (raw) => sent.push(JSON.parse(raw)),
      tag: () => `id${++n}`,
      commit: (u) => {
        committed = u.config;
        commits.push(u);
      },
    });
    return { configs, sent, commits, committed: () => committed };
  }

  it('answers in order after the restore; one update in flight; a rejection drops it whole', () => {
    const { configs, sent, commits, committed } = updates();
    configs.request({ voice: 'ash' }, 'c1');
    configs.request({ instructions: 'x' }, 'c2');
    expect(sent.map((e) => e.event_id)).toEqual(['id1']);
    configs.providerConnected();
    configs.updated(); // the restore
    expect(commits).toEqual([]);
    expect(configs.rejected('id1')?.clientEventId).toBe('c1');
    expect(sent.map((e) => e.event_id)).toEqual(['id1', 'id2']);
    configs.updated();
    expect(commits.map((c) => c.clientEventId)).toEqual(['c2']);
    expect(committed()).toMatchObject({ voice: 'alloy', instructions: 'x' });
    expect(configs.pending).toBe(0);
  });

  it('re-sends the update whose answer a dropped connection lost, after the next restore', () => {
    const { configs, sent, commits } = updates();
    configs.providerConnected();
    configs.updated(); // restore
    configs.request({ voice: 'ash' }, undefined);
    configs.providerLost();
    configs.providerConnected();
    expect(sent.map((e) => e.event_id)).toEqual(['id1', 'id2']);
    configs.updated(); // restore
    expect(commits).toEqual([]);
    expect(configs.rejected('id1')).toBeUndefined();
    configs.updated();
    expect(commits).toHaveLength(1);
  });

  it('a rejected restore is not mistaken for the answer to a client update', () => {
    const { configs, commits } = updates();
    configs.providerConnected();
    configs.request({ voice: 'ash' }, undefined);
    configs.restoreRejected();
    configs.updated();
    expect(commits).toHaveLength(1);
  });
});

describe('HistoryLog', () => {
  const user = (t: string): HistoryItem => ({ role: 'user', type: 'text', text: t, at: 1 });
  const bot = (t: string): HistoryItem => ({ role: 'assistant', type: 'text', text: t, at: 1 });

  it('writes a transcript in its place, releases a missing one after holdMs, appends a late one', () => {
    vi.useFakeTimers();
    const written: HistoryItem[] = [];
    const log = new HistoryLog(async (i) => void written.push(i), 1000);
    log.reserve('u1');
    log.append(bot('reply 1'));
    expect(written).toEqual([]);
    log.fill('u1', user('question 1'));
    expect(written).toEqual([user('question 1'), bot('reply 1')]);
    log.reserve('u2');
    log.append(bot('reply 2'));
    vi.advanceTimersByTime(1000);
    expect(written.at(-1)).toEqual(bot('reply 2'));
    log.fill('u2', user('question 2'));
    expect(written.at(-1)).toEqual(user('question 2'));
  });

  it('function items do not wait; close drops what waits unless the session is handed off', async () => {
    const written: HistoryItem[] = [];
    const log = new HistoryLog(async (i) => void written.push(i));
    log.reserve('u1');
    log.append(bot('held'));
    await log.appendNow({ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}', at: 1 });
    expect(written.map((i) => i.type)).toEqual(['function_call']);
    log.close(false);
    expect(written).toHaveLength(1);
    const other = new HistoryLog(async (i) => void written.push(i));
    other.reserve('u2');
    other.append(bot('kept'));
    other.close(true);
    expect(written.at(-1)).toEqual(bot('kept'));
  });
});

describe('ToolCalls and ProviderRequests', () => {
  it('announces a call once, applies a result once, knows restored ones, names beta calls', () => {
    const calls = new ToolCalls();
    calls.remember([
      { type: 'function_call', call_id: 'old', name: 'f', arguments: '{}', at: 1 },
      { type: 'function_call_output', call_id: 'old', output: 'x', at: 2 },
    ]);
    expect(calls.claimAnnouncement('old')).toBe(false);
    expect(calls.claimOutput('old')).toBe(false);
    calls.noteItem({ id: 'item_1', call_id: 'new', name: 'lookup' });
    expect(calls.nameOf('unknown', 'item_1')).toBe('lookup');
    expect(calls.nameOf('new', undefined)).toBe('lookup');
    expect(calls.claimAnnouncement('new')).toBe(true);
    expect(calls.claimAnnouncement('new')).toBe(false);
    expect(calls.claimOutput('new')).toBe(true);
    expect(calls.claimOutput('new')).toBe(false);
  });

  it('maps our event ids to the client event ids, bounded', () => {
    const requests = new ProviderRequests(2);
    const a = requests.next({ kind: 'client', clientEventId: 'a' });
    const b = requests.next({ kind: 'turn', requeue: true });
    const c = requests.next({ kind: 'config', clientEventId: 'c' });
    expect(requests.size).toBe(2);
    expect(requests.take(a)).toBeUndefined();
    expect(requests.take(b)).toEqual({ kind: 'turn', requeue: true });
    expect(requests.take(c)?.clientEventId).toBe('c');
    expect(requests.take(c)).toBeUndefined();
    expect(requests.nextIfTagged(undefined)).toBeUndefined();
  });
});
