// `RTV_WORKERS=2 npm start` through the real launcher: a worker killed with SIGKILL while sessions stream is
// restarted by the launcher, its sessions go on on the other worker over the same sockets, and the
// launcher itself keeps running.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeys } from '@rtv/bus';
import { createTestRedis, freePort, type TestRedis, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioMessage, noticeCodes, numberedFrame } from './helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Whether `port` can be listened on right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base such that base+1 and base+2 (the two workers' admin ports) are free. */
async function freeWorkerAdminBase(): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first < 65535 && (await portIsFree(first + 1))) return first - 1;
  }
}

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
  let launcher: ChildProcess;
  let out = '';
  const ports = { gateway: 0, gatewayAdmin: 0, status: 0, demo: 0, workerBase: 0 };
  const clients: WsTestClient[] = [];

  beforeAll(async () => {
    t = await createTestRedis('launcher');
    [ports.gateway, ports.gatewayAdmin, ports.status, ports.demo] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    ports.workerBase = await freeWorkerAdminBase();
    launcher = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'launcher.mjs'), 'start'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NO_COLOR: '1',
        FORCE_COLOR: undefined,
        OPENAI_API_KEY: '',
        REDIS_URL: t.url,
        RTV_REDIS_PREFIX: t.prefix,
        RTV_LOG_LEVEL: 'warn',
        RTV_WORKERS: '2',
        RTV_GATEWAY_PORT: String(ports.gateway),
        RTV_GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
        RTV_STATUS_PORT: String(ports.status),
        RTV_DEMO_PORT: String(ports.demo),
        RTV_WORKER_ADMIN_PORT_BASE: String(ports.workerBase),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so the end of the test can signal the launcher alone, as a terminal would.
      detached: true,
    });
    launcher.stdout?.on('data', (b) => {
      out += b;
    });
    launcher.stderr?.on('data', (b) => {
      out += b;
    });
    await waitFor(
      () => {
        if (launcher.exitCode !== null) throw new Error(`launcher exited early:\n${out}`);
        return out.includes('Ctrl-C');
      },
      { timeoutMs: 90_000, intervalMs: 100, message: 'the stack is up' },
    );
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.terminate().catch(() => {});
    if (launcher?.pid !== undefined && launcher.exitCode === null) {
      const exited = new Promise((resolve) => launcher.once('exit', resolve));
      process.kill(-launcher.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      // If it did not stop in time: the launcher and each service it printed (services lead their own groups).
      const printed = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
      for (const pid of [launcher.pid, ...printed]) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await t?.cleanup();
  }, 40_000);

  it('SIGKILL of a worker: its sessions go on on the other one, and the launcher brings it back', async () => {
    const keys = createKeys(t.prefix);
    const sessions: { ws: WsTestClient; key: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const ws = await WsTestClient.connect(
        `ws://127.0.0.1:${ports.gateway}/api/v1/streaming/realtime/supervised_${i}`,
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
    const victimPid = pidOf(out, victim);
    const survivorPid = pidOf(out, survivor);
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
    await waitFor(() => out.includes(`${victim} is back (restart 1)`), {
      timeoutMs: 30_000,
      message: `${victim} back`,
    });
    expect(out).toContain(`${victim} exited (signal SIGKILL); restart 1 in 0.5 s`);
    expect(launcher.exitCode).toBeNull();
    const restartedPid = pidOf(out, victim);
    expect(restartedPid).not.toBe(victimPid);
    expect(pidOf(out, survivor)).toBe(survivorPid);
    const victimAdmin = ports.workerBase + (victim === 'worker-1' ? 1 : 2);
    const ready = await fetch(`http://127.0.0.1:${victimAdmin}/readyz`);
    expect(ready.status).toBe(200);
  }, 120_000);
});
