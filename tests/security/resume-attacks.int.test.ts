// Attacks on session resume at running gateways and workers (real Redis, real sockets): a token copied from a
// logged URL, a used token replayed, a JWT session resumed on the anonymous route, a live session stolen with
// its token, and a session kept past its maximum length by resuming. docs/durability.md, Resume.
import { createKeys } from '@rtv/bus';
import { WsTestClient, waitFor } from '@rtv/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resume, resumeOnce } from '../e2e/helpers/resume.js';
import { type Stack, startStack, TEST_JWT_SECRET } from '../e2e/helpers/stack.js';

type Created = { session: { id: string; resume_token: string } };
type ErrorMsg = { error: { code: string; message: string; param?: string } };

async function jwtFor(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setSubject(sub)
    .setIssuer('https://id.example.com')
    .setAudience('realtime-voice')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** Waits until the record says the client is detached (the gateway recorded the drop). */
async function detached(stack: Stack, sid: string): Promise<void> {
  const key = createKeys(stack.redis.prefix).session(sid);
  await waitFor(async () => (await stack.redis.redis.hget(key, 'client')) === 'detached', {
    message: 'the drop is recorded',
  });
}

/** Runs one text turn: by then a worker owns the session (an unowned session is discarded on a drop). */
async function bound(ws: WsTestClient): Promise<void> {
  ws.send({ type: 'conversation.item.input', conversation_item_input: { type: 'input_text', text: 'Hi' } });
  await ws.nextOfType('response.done', 10_000);
}

async function refusal(
  ws: WsTestClient,
): Promise<{ code: string; param?: string; message: string; close: number }> {
  const err = await ws.nextOfType<ErrorMsg>('error');
  return { ...err.error, close: (await ws.closed).code };
}

describe('resume attacks', () => {
  let stack: Stack;
  let authUrl: (g?: number) => string;
  beforeAll(async () => {
    stack = await startStack({ gateways: 2 });
    authUrl = (g = 0) => stack.wsUrl('', g).replace(/\/$/, '');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a token in the URL is refused, and a token copied from that URL no longer resumes', async () => {
    const victim = await WsTestClient.connect(stack.wsUrl('leaky'));
    const { session } = await victim.nextOfType<Created>('session.created');
    await bound(victim);
    await victim.terminate();
    await detached(stack, session.id);

    // An old client (or anyone) puts the token in the query string, where proxies log it.
    const logged = `${stack.wsUrl('leaky')}?resume=${session.id}&resume_token=${encodeURIComponent(session.resume_token)}`;
    const inUrl = await WsTestClient.connect(logged);
    const refused = await refusal(inUrl);
    expect(refused).toMatchObject({ code: 'invalid_message', param: 'resume_token', close: 4001 });
    expect(refused.message).toContain('rtv.resume.');

    // Whoever read the log tries the token the proper way: it was spent when it showed up in a URL.
    const thief = await resumeOnce(stack.wsUrl('leaky'), session.id, session.resume_token);
    expect(await refusal(thief)).toMatchObject({ code: 'session_not_found', close: 4001 });
  });

  it('a used token does not resume again; the fresh one from the resume does', async () => {
    const first = await WsTestClient.connect(stack.wsUrl('rotating'));
    const { session } = await first.nextOfType<Created>('session.created');
    await bound(first);
    await first.terminate();
    const second = await resume(stack.wsUrl('rotating', 1), session.id, session.resume_token);
    const again = await second.nextOfType<Created>('session.created');
    expect(again.session.id).toBe(session.id);
    // Only rtv.v1 is selected: the token entry is never echoed into the handshake response.
    expect(second.protocol).toBe('rtv.v1');
    expect(again.session.resume_token).not.toBe(session.resume_token);
    await second.terminate();
    await detached(stack, session.id);

    const replay = await resumeOnce(stack.wsUrl('rotating'), session.id, session.resume_token);
    expect(await refusal(replay)).toMatchObject({ code: 'session_not_found', close: 4001 });

    const third = await resume(stack.wsUrl('rotating'), session.id, again.session.resume_token);
    expect((await third.nextOfType<Created>('session.created')).session.id).toBe(session.id);
    await third.close();
  });

  it('a session opened with a JWT cannot be resumed on the anonymous route', async () => {
    const jwt = await jwtFor('alice');
    const owner = await WsTestClient.connect(authUrl(), { headers: { authorization: `Bearer ${jwt}` } });
    const { session } = await owner.nextOfType<Created>('session.created');
    await bound(owner);
    await owner.terminate();
    await detached(stack, session.id);

    const anonymous = await resumeOnce(stack.wsUrl('alice'), session.id, session.resume_token);
    expect(await refusal(anonymous)).toMatchObject({ code: 'session_not_found', close: 4001 });

    // The refusal spent nothing: alice, with her JWT, resumes with the same token.
    const back = await resume(authUrl(1), session.id, session.resume_token, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect((await back.nextOfType<Created>('session.created')).session.id).toBe(session.id);
    await back.close();
  });

  it('a live anonymous session is not taken by its token: session_in_use and 1013, the victim keeps it', async () => {
    const victim = await WsTestClient.connect(stack.wsUrl('bob'));
    const { session } = await victim.nextOfType<Created>('session.created');
    await bound(victim);

    const thief = await resumeOnce(stack.wsUrl('bob', 1), session.id, session.resume_token);
    expect(await refusal(thief)).toMatchObject({ code: 'session_in_use', close: 1013 });

    victim.send({ type: 'ping', ping: { timestamp: 42 } });
    await victim.nextOfType('pong');
    victim.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Still mine?' },
    });
    await victim.nextOfType('response.done', 10_000);
    expect(victim.all().some((m) => (m as { type?: string }).type === 'session.notice')).toBe(false);

    // Nothing was spent: after a real drop, the owner's token still resumes.
    await victim.terminate();
    const back = await resume(stack.wsUrl('bob'), session.id, session.resume_token);
    expect((await back.nextOfType<Created>('session.created')).session.id).toBe(session.id);
    await back.close();
  });

  it.each([
    ['on another gateway', 1],
    ['on the same gateway', 0],
  ])(
    'the same user with a valid JWT takes a live session over %s; the old socket is told and closed with 4409',
    async (_where, gateway) => {
      const jwt = await jwtFor(`carol${gateway}`);
      const headers = { authorization: `Bearer ${jwt}` };
      const old = await WsTestClient.connect(authUrl(0), { headers });
      const { session } = await old.nextOfType<Created>('session.created');
      await bound(old);

      const fresh = await resumeOnce(authUrl(gateway), session.id, session.resume_token, { headers });
      expect((await fresh.nextOfType<Created>('session.created')).session.id).toBe(session.id);
      const notice = await old.nextOfType<{ notice: { code: string } }>('session.notice');
      expect(notice.notice.code).toBe('session_resumed_elsewhere');
      expect((await old.closed).code).toBe(4409);

      // The session goes on on the new socket.
      fresh.send({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'Moved devices.' },
      });
      await fresh.nextOfType('response.done', 10_000);
      await fresh.close();
    },
  );
});

describe('maximum session length and resume', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      gatewayEnv: { RTV_MAX_SESSION_S: '3' },
      workerEnv: { RTV_MAX_SESSION_S: '3' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('resuming does not extend a session: it still ends 3 s after its creation with session_expired and 4408', async () => {
    const createdAt = Date.now();
    const first = await WsTestClient.connect(stack.wsUrl('long'));
    const { session } = await first.nextOfType<Created>('session.created');
    await bound(first);
    await new Promise((r) => setTimeout(r, 2000 - (Date.now() - createdAt)));
    await first.terminate();
    const resumed = await resume(stack.wsUrl('long'), session.id, session.resume_token);
    await resumed.nextOfType('session.created');
    // Counted from the resume, the limit would fire 5 s after creation; from creation it fires at 3 s.
    const deadline = createdAt + 4000 - Date.now();
    const err = await resumed.nextOfType<ErrorMsg>('error', deadline);
    expect(err.error.code).toBe('session_expired');
    expect((await resumed.closed).code).toBe(4408);
  }, 20_000);

  it('the worker ends a detached session at its maximum length: a later resume finds nothing', async () => {
    const first = await WsTestClient.connect(stack.wsUrl('parked'));
    const { session } = await first.nextOfType<Created>('session.created');
    await bound(first);
    await first.terminate();
    await detached(stack, session.id);
    // Detached with 60 s of resume grace, but 3 s is the session's whole life.
    const key = createKeys(stack.redis.prefix).session(session.id);
    await waitFor(async () => (await stack.redis.redis.exists(key)) === 0, {
      timeoutMs: 10_000,
      message: 'the worker ended the session',
    });
    const late = await resumeOnce(stack.wsUrl('parked'), session.id, session.resume_token);
    expect(await refusal(late)).toMatchObject({ code: 'session_not_found', close: 4001 });
  }, 20_000);
});
