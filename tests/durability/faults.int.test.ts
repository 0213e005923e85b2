// Faults below the session: a worker told to stop hands its sessions over; the provider dropping the socket
// or reaching its session cap is absorbed by reconnecting or renewing with the context restored.
import { createKeys } from '@rtv/bus';
import { type SpawnedService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { noticeCodes, spawnWorker } from './helpers.js';

type Created = { session: { id: string } };
const text = (t: string) => ({
  type: 'conversation.item.input',
  conversation_item_input: { type: 'input_text', text: t },
});

describe('worker SIGTERM', () => {
  let stack: Stack;
  const workers = new Map<string, SpawnedService>();
  beforeAll(async () => {
    stack = await startStack({ workers: 0 });
    for (const id of ['wk-x', 'wk-y']) workers.set(id, await spawnWorker(stack, id));
  }, 60_000);
  afterAll(async () => {
    for (const w of workers.values()) await w.stop('SIGKILL');
    await stack?.stop();
  });

  it('hands its sessions to the other worker and exits 0; the conversation continues with its history', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('handoff'));
    const { session } = await ws.nextOfType<Created>('session.created');
    ws.send(text('My name is Ada.'));
    await ws.nextOfType('response.done', 10_000);
    const key = createKeys(stack.redis.prefix).session(session.id);
    const owner = (await stack.redis.redis.hget(key, 'owner'))!;
    const restored: string[] = [];
    stack.engine.events.on('client-event', (_c: string, e: { type: string; item?: { role?: string } }) => {
      if (e.type === 'conversation.item.create' && e.item?.role === 'assistant') restored.push('assistant');
    });
    expect(await workers.get(owner)!.stop('SIGTERM', 15_000)).toBe(0);
    workers.delete(owner);
    await waitFor(async () => (await stack.redis.redis.hget(key, 'owner')) !== owner, {
      message: 'new owner',
      timeoutMs: 10_000,
    });
    await ws.nextOfType('session.notice', 10_000);
    expect(noticeCodes(ws)).toContain('session_recovered');
    // The new provider session got the earlier assistant reply back as context.
    expect(restored.length).toBeGreaterThan(0);
    ws.send(text('What is my name?'));
    await ws.nextOfType('response.done', 10_000);
    await ws.close();
  }, 60_000);
});

describe('provider faults', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workerEnv: { RTV_PROVIDER_RENEW_MS: '1500' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('reconnects when the provider drops the socket mid-turn, and the session continues', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('dropped'));
    await ws.nextOfType('session.created');
    ws.send(text('First question'));
    await ws.nextOfType('response.done', 10_000);
    stack.engine.dropAll();
    await waitFor(() => noticeCodes(ws).includes('upstream_reconnecting'), {
      message: 'reconnecting notice',
    });
    ws.send(text('Second question'));
    const done = await ws.nextOfType<{ response: { status?: string } }>('response.done', 10_000);
    expect(done.response.status).toBe('completed');
    await ws.close();
  });

  it('renews the provider session before its cap, invisibly, with the conversation restored', async () => {
    const connections: string[] = [];
    const restored: string[] = [];
    stack.engine.events.on('connection', (id: string) => connections.push(id));
    stack.engine.events.on('client-event', (_c: string, e: { type: string; item?: { role?: string } }) => {
      if (e.type === 'conversation.item.create' && e.item?.role) restored.push(e.item.role);
    });
    const ws = await WsTestClient.connect(stack.wsUrl('renewed'));
    await ws.nextOfType('session.created');
    ws.send(text('Hello before renewal'));
    await ws.nextOfType('response.done', 10_000);
    const before = connections.length;
    await waitFor(() => connections.length > before, {
      timeoutMs: 5000,
      message: 'provider session renewed',
    });
    await waitFor(() => restored.includes('assistant'), {
      message: 'history replayed into the new provider session',
    });
    ws.send(text('Hello after renewal'));
    await ws.nextOfType('response.done', 10_000);
    // Invisible to the client: no notices at all.
    expect(noticeCodes(ws)).toEqual([]);
    await ws.close();
  });
});
