// `RTV_WORKERS=2 npm start` through the real launcher: a worker killed with SIGKILL while sessions stream is
// restarted by the launcher, its sessions go on on the other worker over the same sockets, and the
// launcher itself keeps running.
import { createKeys } from '@rtv/bus';
import { createTestRedis, type TestRedis, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningLauncher, startLauncher } from '../e2e/helpers/launcher.js';
import { audioMessage, noticeCodes, numberedFrame } from './helpers.js';

function textTurn(text: string): object {
  return {
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text },
  };
}

/** The pid the launcher printed for the latest start of `tag`. */
function pidOf(out: string, tag: string): number | undefined {
  const pids = [...out.matchAll(new RegExp(`starting ${tag} (?:again )?\\(pid (\\d+)\\)`, 'g'))];
  const last = pids.at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

describe('npm start supervision (real launcher, RTV_WORKERS=2)', () => {
  let t: TestRedis;
  let launcher: RunningLauncher;
  const clients: WsTestClient[] = [];

  beforeAll(async () => {
    t = await createTestRedis('launcher');
    launcher = await startLauncher(t, { workers: 2 });
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.terminate().catch(() => {});
    await launcher?.stop();
    await t?.cleanup();
  }, 40_000);

  it('SIGKILL of a worker: its sessions go on on the other one, and the launcher brings it back', async () => {
    const keys = createKeys(t.prefix);
    const sessions: { ws: WsTestClient; key: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const ws = await WsTestClient.connect(
        `ws://127.0.0.1:${launcher.ports.gateway}/api/v1/streaming/realtime/supervised_${i}`,
      );
      clients.push(ws);
      const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
      const key = keys.session(created.session.id);
      await waitFor(() => t.redis.hget(key, 'owner'), { message: 'session bound' });
      sessions.push({ ws, key });
    }
    const owners = await Promise.all(sessions.map((s) => t.redis.hget(s.key, 'owner')));
    const victim = owners[0]!;
    expect(['worker-1', 'worker-2']).toContain(victim);
    const survivor = victim === 'worker-1' ? 'worker-2' : 'worker-1';
    const victimPid = pidOf(launcher.output(), victim);
    const survivorPid = pidOf(launcher.output(), survivor);
    expect(victimPid).toBeDefined();

    // Audio streams on every session while the owner dies.
    for (let n = 1; n <= 50; n++) {
      for (const s of sessions) s.ws.send(audioMessage(numberedFrame(n)));
      if (n === 10) process.kill(victimPid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 20));
    }

    // Every session answers a new text turn on its own socket. The dead worker's sessions were taken over
    // (a new epoch) by a live process: the survivor, or the victim's restarted process when it was back
    // first (it reuses the worker id); the survivor's sessions were not disturbed.
    for (const s of sessions) s.ws.send(textTurn('Are you still there?'));
    for (const s of sessions) await s.ws.nextOfType('response.done', 30_000);
    for (const [i, s] of sessions.entries()) {
      const now = await t.redis.hmget(s.key, 'owner', 'epoch');
      if (owners[i] === victim) {
        expect(now[1]).toBe('2');
        expect(noticeCodes(s.ws)).toContain('session_recovered');
      } else {
        expect(now).toEqual([survivor, '1']);
        expect(noticeCodes(s.ws)).not.toContain('session_recovered');
      }
    }

    // The launcher is still running, restarted the victim, and left the survivor alone.
    await waitFor(() => launcher.output().includes(`${victim} is back (restart 1)`), {
      timeoutMs: 30_000,
      message: `${victim} back`,
    });
    expect(launcher.output()).toContain(`${victim} exited (signal SIGKILL); restart 1 in 0.5 s`);
    expect(launcher.process.exitCode).toBeNull();
    const restartedPid = pidOf(launcher.output(), victim);
    expect(restartedPid).not.toBe(victimPid);
    expect(pidOf(launcher.output(), survivor)).toBe(survivorPid);
    const victimAdmin = launcher.ports.workerBase + (victim === 'worker-1' ? 1 : 2);
    const ready = await fetch(`http://127.0.0.1:${victimAdmin}/readyz`);
    expect(ready.status).toBe(200);
  }, 120_000);
});
