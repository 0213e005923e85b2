// The OpenAI-compatible route across a worker SIGKILL, seen by OpenAI's own SDKs, which know nothing of resume:
// the socket stays open, no second session.created and no error reach the SDK, the next turn is answered on the
// same socket, and the new provider session holds the earlier turn under the item ids the SDK already knows.
import net from 'node:net';
import { RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';
import { createKeys } from '@rtv/bus';
import { type SpawnedService, waitFor } from '@rtv/testing';
import { SignJWT } from 'jose';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_JWT_SECRET } from '../e2e/helpers/stack.js';
import { spawnWorker } from './helpers.js';

type Event = { type: string; [k: string]: unknown };

let stack: Stack;
const workers = new Map<string, SpawnedService>();

beforeAll(async () => {
  stack = await startStack({ workers: 0, engine: { pace: true } });
  workers.set('wk-a', await spawnWorker(stack, 'wk-a'));
  workers.set('wk-b', await spawnWorker(stack, 'wk-b'));
}, 60_000);

afterAll(async () => {
  for (const w of workers.values()) await w.stop('SIGKILL');
  await stack?.stop();
});

function token(user: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** The worker that owns the session of `user` (the only session of that user). */
function ownerOf(user: string): Promise<string> {
  const keys = createKeys(stack.redis.prefix);
  return waitFor(
    async () => {
      for (const key of await stack.redis.redis.keys(keys.session('*'))) {
        if (key.includes(':history')) continue;
        if ((await stack.redis.redis.hget(key, 'user')) === user) return stack.redis.redis.hget(key, 'owner');
      }
      return undefined;
    },
    { message: `owner of ${user}'s session` },
  );
}

/** Kills the worker that owns the session of `user` with SIGKILL, and starts another in its place. */
async function killOwnerOf(user: string): Promise<string> {
  const owner = await ownerOf(user);
  const worker = workers.get(owner);
  expect(worker, `owner ${owner} is one of the spawned workers`).toBeDefined();
  worker!.child.kill('SIGKILL');
  await worker!.exited;
  workers.delete(owner);
  // Keep two workers: the next test kills again.
  const id = `wk-${Math.random().toString(36).slice(2, 8)}`;
  workers.set(id, await spawnWorker(stack, id));
  return owner;
}

/** The user items the local engine holds, in order, from what the worker sent it (restores included). */
function recordProviderItems(): Map<string, Array<{ id?: string; text?: string }>> {
  const byConn = new Map<string, Array<{ id?: string; text?: string }>>();
  stack.engine.events.on('client-event', (connId: string, event: Event) => {
    if (event.type !== 'conversation.item.create') return;
    const item = event.item as { id?: string; role?: string; content?: Array<{ text?: string }> };
    if (item.role !== 'user') return;
    const list = byConn.get(connId) ?? [];
    list.push({ ...(item.id ? { id: item.id } : {}), text: item.content?.[0]?.text ?? '' });
    byConn.set(connId, list);
  });
  return byConn;
}

/** An openai-node realtime client on the stack's first gateway, with every server event it got. */
async function openNodeClient(user: string) {
  const port = stack.gateways[0]!.port;
  const client = new OpenAI({ apiKey: await token(user), baseURL: `http://127.0.0.1:${port}/v1` });
  const rt = new OpenAIRealtimeWS(
    { model: 'gpt-realtime', options: { createConnection: () => net.connect(port, '127.0.0.1') } },
    client,
  );
  const events: Event[] = [];
  rt.on('event', (e) => events.push(e as unknown as Event));
  const state = { closed: false };
  rt.socket.on('close', () => {
    state.closed = true;
  });
  await new Promise<void>((resolve, reject) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('error', reject);
  });
  const say = (text: string, id?: string) => {
    rt.send({
      type: 'conversation.item.create',
      item: { ...(id ? { id } : {}), type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    });
    rt.send({ type: 'response.create' });
  };
  const done = () =>
    events.filter((e) => e.type === 'response.done') as Array<Event & { response: Record<string, unknown> }>;
  const transcripts = () =>
    events
      .filter((e) => e.type === 'response.output_audio_transcript.done')
      .map((e) => e.transcript as string);
  return { rt, events, state, say, done, transcripts };
}

describe('OpenAI-compatible route: worker SIGKILL mid-conversation', () => {
  it('openai-node OpenAIRealtimeWS: same socket, next turn answered, earlier turn restored under its item id', async () => {
    const user = 'oai-failover-node';
    const port = stack.gateways[0]!.port;
    const client = new OpenAI({ apiKey: await token(user), baseURL: `http://127.0.0.1:${port}/v1` });
    const rt = new OpenAIRealtimeWS(
      { model: 'gpt-realtime', options: { createConnection: () => net.connect(port, '127.0.0.1') } },
      client,
    );
    const events: Event[] = [];
    rt.on('event', (e) => events.push(e as unknown as Event));
    let closed = false;
    rt.socket.on('close', () => {
      closed = true;
    });
    await new Promise<void>((resolve, reject) => {
      rt.socket.once('open', () => resolve());
      rt.socket.once('error', reject);
    });
    const providerItems = recordProviderItems();
    const say = (id: string, text: string) => {
      rt.send({
        type: 'conversation.item.create',
        item: { id, type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
      });
      rt.send({ type: 'response.create' });
    };
    const doneCount = () => events.filter((e) => e.type === 'response.done').length;

    say('item_user_turn_one', 'My name is Ada.');
    await waitFor(() => doneCount() === 1, { message: 'first response.done' });
    await killOwnerOf(user);
    say('item_user_turn_two', 'What did I say earlier?');
    await waitFor(() => doneCount() === 2, { timeoutMs: 20_000, message: 'second response.done' });

    expect(closed).toBe(false);
    expect(events.filter((e) => e.type === 'session.created')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    const transcripts = events
      .filter((e) => e.type === 'response.output_audio_transcript.done')
      .map((e) => e.transcript);
    expect(transcripts[1]).toContain('My name is Ada.');
    // The provider session opened by the new owner got the first turn back, under the id the SDK chose.
    const perProviderSession = [...providerItems.values()].map((items) => items.map((i) => i.id));
    expect(perProviderSession).toEqual([
      ['item_user_turn_one'],
      ['item_user_turn_one', 'item_user_turn_two'],
    ]);
    rt.close();
  }, 60_000);

  it('@openai/agents-realtime RealtimeSession over WebSocket: the history survives and the next turn is answered', async () => {
    const user = 'oai-failover-agents';
    const port = stack.gateways[0]!.port;
    const session = new RealtimeSession(new RealtimeAgent({ name: 'assistant', instructions: 'Be brief.' }), {
      transport: 'websocket',
      model: 'gpt-realtime',
    });
    const errors: unknown[] = [];
    session.on('error', (e) => errors.push(e));
    await session.connect({
      apiKey: await token(user),
      url: `ws://127.0.0.1:${port}/v1/realtime?model=gpt-realtime`,
    });
    const assistantTexts = () =>
      session.history
        .filter((item) => item.type === 'message' && item.role === 'assistant' && item.status === 'completed')
        .map((item) =>
          (item.type === 'message' ? item.content : [])
            .map((part) => ('transcript' in part ? (part.transcript ?? '') : 'text' in part ? part.text : ''))
            .join(''),
        );

    session.sendMessage('My name is Grace.');
    await waitFor(() => assistantTexts().length === 1, { message: 'first reply' });
    await killOwnerOf(user);
    session.sendMessage('What did I say earlier?');
    await waitFor(() => assistantTexts().length === 2, { timeoutMs: 20_000, message: 'second reply' });

    expect(assistantTexts()[1]).toContain('My name is Grace.');
    expect(errors).toEqual([]);
    expect(session.transport.status).toBe('connected');
    session.close();
  }, 60_000);

  it('a response in progress when its worker dies ends with a failed response.done; the next turn is answered', async () => {
    const user = 'oai-failover-inflight';
    const c = await openNodeClient(user);
    c.say('Please tell me a long story about the sea, the mountains and the people who live between them.');
    await waitFor(() => c.events.some((e) => e.type === 'response.output_audio.delta'), {
      message: 'reply audio',
    });
    await killOwnerOf(user);
    await waitFor(() => c.done().length === 1, { timeoutMs: 20_000, message: 'the orphaned response ended' });
    expect(c.done()[0]!.response).toMatchObject({
      status: 'failed',
      status_details: { error: { code: 'session_failover' } },
    });
    c.say('Hello again.');
    await waitFor(() => c.done().length === 2, { timeoutMs: 20_000, message: 'next response.done' });
    expect(c.done()[1]!.response.status).toBe('completed');
    expect(c.state.closed).toBe(false);
    c.rt.close();
  }, 60_000);
});

describe('OpenAI-compatible route: drain and provider renewal', () => {
  it('worker SIGTERM hands the session over: the same socket, and the next turn remembers', async () => {
    const user = 'oai-drain-node';
    const c = await openNodeClient(user);
    c.say('My name is Linus.');
    await waitFor(() => c.done().length === 1, { message: 'first response.done' });
    const owner = await ownerOf(user);
    const worker = workers.get(owner)!;
    await worker.stop('SIGTERM');
    workers.delete(owner);
    c.say('What did I say earlier?');
    await waitFor(() => c.done().length === 2, { timeoutMs: 20_000, message: 'second response.done' });
    expect(c.transcripts()[1]).toBe('Earlier you said: "My name is Linus."');
    expect(c.events.filter((e) => e.type === 'session.created')).toHaveLength(1);
    expect(c.events.filter((e) => e.type === 'error')).toEqual([]);
    expect(c.state.closed).toBe(false);
    const id = `wk-${Math.random().toString(36).slice(2, 8)}`;
    workers.set(id, await spawnWorker(stack, id));
    c.rt.close();
  }, 60_000);

  it('a provider drop is repaired by a new provider session with the conversation restored, unseen by the SDK', async () => {
    const user = 'oai-renewal-node';
    const c = await openNodeClient(user);
    c.say('My name is Barbara.');
    await waitFor(() => c.done().length === 1, { message: 'first response.done' });
    stack.engine.dropAll();
    c.say('What did I say earlier?');
    await waitFor(() => c.done().length === 2, { timeoutMs: 20_000, message: 'second response.done' });
    expect(c.transcripts()[1]).toBe('Earlier you said: "My name is Barbara."');
    expect(c.events.filter((e) => e.type === 'session.created')).toHaveLength(1);
    expect(c.events.filter((e) => e.type === 'error')).toEqual([]);
    expect(c.state.closed).toBe(false);
    c.rt.close();
  }, 60_000);
});
