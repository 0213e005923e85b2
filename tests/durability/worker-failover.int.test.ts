// A worker killed with SIGKILL mid-conversation: another worker (a real process) takes the session over, the
// gateway replays what the dead one had not acknowledged, and the client keeps its socket.
import { createKeys } from '@rtv/bus';
import { type SpawnedService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import {
  audioMessage,
  contiguous,
  echoedFrames,
  noticeCodes,
  numberedFrame,
  recordUpstream,
  spawnWorker,
} from './helpers.js';

describe('worker failover', () => {
  let stack: Stack;
  const workers = new Map<string, SpawnedService>();
  beforeAll(async () => {
    stack = await startStack({ workers: 0, engine: { mode: 'echo' } });
    workers.set('wk-a', await spawnWorker(stack, 'wk-a'));
    workers.set('wk-b', await spawnWorker(stack, 'wk-b'));
  }, 60_000);
  afterAll(async () => {
    for (const w of workers.values()) await w.stop('SIGKILL');
    await stack?.stop();
  });

  it('SIGKILL of the owner: the session continues on the other worker, no frame lost, order kept', async () => {
    const upstream = recordUpstream(stack.engine.events);
    const ws = await WsTestClient.connect(stack.wsUrl('failover_user'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    const key = createKeys(stack.redis.prefix).session(created.session.id);
    const owner = await waitFor(() => stack.redis.redis.hget(key, 'owner'), { message: 'session bound' });
    const total = 250;
    let killedAt = 0;
    // 20 ms frames in real time; the owner dies after one second.
    for (let n = 1; n <= total; n++) {
      ws.send(audioMessage(numberedFrame(n)));
      if (n === 50) {
        workers.get(owner)!.child.kill('SIGKILL');
        killedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => echoedFrames(ws).includes(total), {
      timeoutMs: 15_000,
      message: 'last frame echoed',
    });
    const newOwner = await stack.redis.redis.hget(key, 'owner');
    expect(newOwner).not.toBe(owner);
    expect(Number(await stack.redis.redis.hget(key, 'epoch'))).toBe(2);
    expect(noticeCodes(ws)).toContain('session_recovered');

    // Upstream: one provider session per owner; each received its frames in order with no repeat, and
    // together they cover every frame. The new owner starts after the old owner's last checkpoint, so a
    // few frames the dead owner had applied go again to the new provider session (which never saw them).
    const sessions = [...upstream.values()];
    expect(sessions).toHaveLength(2);
    const [before, after] = sessions as [number[], number[]];
    expect(contiguous(before) && before[0] === 1).toBe(true);
    expect(contiguous(after) && after.at(-1) === total).toBe(true);
    expect(after[0]!).toBeLessThanOrEqual(before.at(-1)! + 1);
    const reapplied = before.at(-1)! - after[0]! + 1;
    const firstAfterKill = echoedFrames(ws).findIndex((n, i, all) => i > 0 && n < all[i - 1]! + 1);
    console.log(
      `failover: reapplied ${reapplied} frame(s) after the checkpoint; ${ws.all().length} messages; kill→end ${Date.now() - killedAt} ms; first repeat at ${firstAfterKill}`,
    );
    // The socket never closed.
    expect(
      await Promise.race([
        ws.closed.then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('open'), 100)),
      ]),
    ).toBe('open');
    await ws.close();
    workers.delete(owner);
  }, 60_000);
});
