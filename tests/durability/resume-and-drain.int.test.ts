// Client resume and gateway drain: a client whose socket dies mid-response resumes on the other gateway and
// gets exactly the server messages it missed; a gateway process told to stop (SIGTERM) sends its clients away
// with 1012 and they resume elsewhere without losing anything.
import { createKeys } from '@rtv/bus';
import { validateServerMessage } from '@rtv/protocol';
import { freePort, type SpawnedService, spawnService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resume, resumeOnce } from '../e2e/helpers/resume.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { contiguous, noticeCodes } from './helpers.js';

type Msg = { type: string; seq?: number; [k: string]: unknown };
type Created = { session: { id: string; resume_token: string } };

function seqs(client: WsTestClient): number[] {
  return (client.all() as Msg[]).map((m) => m.seq).filter((s): s is number => typeof s === 'number');
}

describe('client resume', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Real-time paced speech so a response is still streaming when the socket dies.
    stack = await startStack({ gateways: 2, engine: { pace: true } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a socket killed mid-response resumes on the other gateway: no missed and no duplicated messages', async () => {
    const first = await WsTestClient.connect(`${stack.wsUrl('resumer', 0)}?seq=1`);
    const created = await first.nextOfType<Created>('session.created');
    first.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Tell me a long story about the sea, please.' },
    });
    await first.nextOfType('response.audio', 10_000);
    await first.nextOfType('response.audio', 10_000);
    await first.terminate();
    const lastSeen = Math.max(...seqs(first));

    const { id, resume_token } = created.session;
    const second = await resume(stack.wsUrl('resumer', 1), id, resume_token, {
      query: { seq: 1, last_seq: lastSeen },
    });
    const again = await second.nextOfType<Created>('session.created');
    expect(again.session.id).toBe(id);
    await second.nextOfType('response.done', 20_000);
    expect(noticeCodes(second)).toContain('session_resumed');

    // Every numbered server message of the session, across both sockets: contiguous, none twice.
    const all = [...seqs(first), ...seqs(second)];
    expect(new Set(all).size).toBe(all.length);
    expect(contiguous([...all].sort((a, b) => a - b))).toBe(true);
    expect(seqs(second)[0]).toBe(lastSeen + 1);
    // Numbered messages still match the public schemas (seq is a documented optional field).
    for (const m of [...first.all(), ...second.all()]) expect(validateServerMessage(m).ok).toBe(true);

    // The resumed session keeps working.
    second.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Thanks' },
    });
    await second.nextOfType('response.done', 20_000);
    await second.close();
  }, 60_000);

  it('refuses a wrong, foreign or unknown resume with session_not_found and close 4001', async () => {
    const owner = await WsTestClient.connect(stack.wsUrl('alice'));
    const { session } = await owner.nextOfType<Created>('session.created');
    const attempts = [
      () => resumeOnce(stack.wsUrl('alice', 1), session.id, `v2.9999999999.0.${'A'.repeat(43)}`),
      () => resumeOnce(stack.wsUrl('mallory', 1), session.id, session.resume_token),
      () => resumeOnce(stack.wsUrl('alice', 1), `sess_${'x'.repeat(21)}`, session.resume_token),
      () => WsTestClient.connect(`${stack.wsUrl('alice', 1)}?resume=not-a-session`),
    ];
    for (const attempt of attempts) {
      const ws = await attempt();
      const err = await ws.nextOfType<{ error: { code: string } }>('error');
      expect(err.error.code).toBe('session_not_found');
      expect((await ws.closed).code).toBe(4001);
    }
    // The real session was not disturbed.
    owner.send({ type: 'ping', ping: { timestamp: 7 } });
    await owner.nextOfType('pong');
    await owner.close();
  });
});

describe('gateway drain (SIGTERM)', () => {
  let stack: Stack;
  let gateway: SpawnedService;
  let port: number;
  beforeAll(async () => {
    stack = await startStack({ gateways: 1 });
    port = await freePort();
    const admin = await freePort();
    gateway = await spawnService(
      'services/gateway/src/main.ts',
      {
        REDIS_URL: stack.redis.url,
        RTV_REDIS_PREFIX: stack.redis.prefix,
        RTV_LOG_LEVEL: 'warn',
        RTV_GATEWAY_PORT: String(port),
        RTV_GATEWAY_ADMIN_PORT: String(admin),
        RTV_STATUS_URL: stack.statusUrl,
        RTV_DRAIN_GRACE_MS: '300',
      },
      { readyUrl: `http://127.0.0.1:${admin}/readyz` },
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await stack?.stop();
  });

  it('tells clients to reconnect, closes with 1012, exits 0; they resume on another gateway with their history', async () => {
    const ws = await WsTestClient.connect(`ws://127.0.0.1:${port}/api/v1/streaming/realtime/drained`);
    const { session } = await ws.nextOfType<Created>('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Remember the word lighthouse.' },
    });
    await ws.nextOfType('response.done', 10_000);
    gateway.child.kill('SIGTERM');
    const notice = await ws.nextOfType<{ notice: { code: string } }>('session.notice');
    expect(notice.notice.code).toBe('server_draining');
    expect((await ws.closed).code).toBe(1012);
    expect(await gateway.exited).toBe(0);

    const resumed = await resume(stack.wsUrl('drained', 0), session.id, session.resume_token);
    await resumed.nextOfType('session.created');
    await resumed.nextOfType('session.notice');
    resumed.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Still there?' },
    });
    await resumed.nextOfType('response.done', 10_000);
    const history = await stack.redis.redis.lrange(
      createKeys(stack.redis.prefix).sessionHistory(session.id),
      0,
      -1,
    );
    expect(history.map((h) => (JSON.parse(h) as { role: string }).role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    await resumed.close();
    await waitFor(
      async () => (await stack.redis.redis.exists(createKeys(stack.redis.prefix).session(session.id))) === 0,
      {
        message: 'session removed after the client closed normally',
      },
    );
  }, 60_000);
});
