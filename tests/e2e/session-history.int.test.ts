// The session history route of the status API: a session's state and conversation, for its own user (JWT)
// or a server-to-server API key with history:read; nobody else learns the session exists.
import { WsTestClient, waitFor } from '@rtv/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_API_KEY, TEST_JWT_SECRET } from './helpers/stack.js';

const jwtFor = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));

type History = {
  session: { id: string; user_id: string; owner: string | null; epoch: number; client: string };
  history: Array<{ role: string; text: string }>;
};

describe('GET /api/v1/streaming/realtime/sessions/{id}', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('returns the conversation to its user and to an API key, and 404/401 to everyone else', async () => {
    // Signed in as historian: an anonymous /realtime/historian session would belong to anon:historian.
    const ws = await WsTestClient.connect(stack.wsUrl('').replace(/\/$/, ''), {
      headers: { authorization: `Bearer ${await jwtFor('historian')}` },
    });
    const { session } = await ws.nextOfType<{ session: { id: string } }>('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Note this down' },
    });
    await ws.nextOfType('response.done', 10_000);
    const url = `${stack.statusUrl}/api/v1/streaming/realtime/sessions/${session.id}`;
    const get = (authorization?: string) => fetch(url, authorization ? { headers: { authorization } } : {});

    const own = await waitFor(
      async () => {
        const res = await get(`Bearer ${await jwtFor('historian')}`);
        const body = (await res.json()) as History;
        return res.status === 200 && body.history.length === 2 ? body : undefined;
      },
      { message: 'history with both items' },
    );
    expect(own.session).toMatchObject({ id: session.id, user_id: 'historian', epoch: 1, client: 'attached' });
    expect(own.session.owner).toBe('wk-0');
    expect(own.history.map((h) => h.role)).toEqual(['user', 'assistant']);
    expect(own.history[0]!.text).toBe('Note this down');

    const ops = await get(`Bearer ${TEST_API_KEY}`);
    expect(ops.status).toBe(200);
    expect((await get(`Bearer ${await jwtFor('someone-else')}`)).status).toBe(404);
    expect((await get()).status).toBe(401);
    expect((await get('Bearer not-a-token')).status).toBe(401);
    const unknown = await fetch(
      `${stack.statusUrl}/api/v1/streaming/realtime/sessions/sess_${'x'.repeat(21)}`,
      {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      },
    );
    expect(unknown.status).toBe(404);
    await ws.close();
  });
});
