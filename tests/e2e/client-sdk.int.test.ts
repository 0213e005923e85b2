// @rtv/client against the real stack in Node: gateways, a worker and the local engine on a real Redis. Text
// and voice turns, configuration, authentication, errors surfaced, and resume after a network drop and a
// gateway drain.
import {
  type OpenEvent,
  RealtimeClientError,
  type RealtimeClientOptions,
  RealtimeVoiceClient,
  type ServerMessage,
} from '@rtv/client';
import { makeSyntheticSpeech, pcmFrames, waitFor } from '@rtv/testing';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Stack, startStack, TEST_JWT_SECRET } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

let stack: Stack;
const clients: RealtimeVoiceClient[] = [];

beforeAll(async () => {
  stack = await startStack({ gateways: 2 });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client with a log of every server message type and every failure. */
function client(options: Partial<RealtimeClientOptions> & Pick<RealtimeClientOptions, 'url'>) {
  const c = new RealtimeVoiceClient({ WebSocket, heartbeatIntervalMs: false, ...options });
  clients.push(c);
  const messages: ServerMessage[] = [];
  const failures: RealtimeClientError[] = [];
  c.on('message', (m) => messages.push(m));
  c.on('failure', (f) => failures.push(f));
  return { c, messages, failures };
}

/** Resolves with the next `response.done` and the reply text before it. */
function nextReply(c: RealtimeVoiceClient): Promise<{ text: string; audioBytes: number; status?: string }> {
  let text = '';
  let audioBytes = 0;
  return new Promise((resolve) => {
    const offs = [
      c.on('response.delta', (m) => {
        text += m.response.delta.content;
      }),
      c.on('response.audio', (m) => {
        audioBytes += Buffer.from(m.response.audio, 'base64').length;
      }),
      c.once('response.done', (m) => {
        for (const off of offs) off();
        resolve({ text, audioBytes, status: m.response.status });
      }),
    ];
  });
}

describe('@rtv/client against the stack', () => {
  it('runs a text turn with typed events', async () => {
    const { c, failures } = client({ url: stack.wsUrl('sdk_text') });
    const session = await c.connect();
    // The anonymous route's caller acts in the anon: namespace (docs/security.md).
    expect(session).toMatchObject({ user_id: 'anon:sdk_text', protocol_version: '1.0' });
    expect(session.id).toMatch(/^sess_/);
    const reply = nextReply(c);
    c.sendText('Hello, how are you?');
    const { text, audioBytes, status } = await reply;
    expect(text.length).toBeGreaterThan(0);
    expect(audioBytes).toBeGreaterThan(24_000 * 2 * 0.25);
    expect(status).toBe('completed');
    expect(failures).toEqual([]);
  });

  it('runs a voice turn from binary PCM16 chunks: speech detected, then a spoken reply', async () => {
    const { c, messages } = client({ url: stack.wsUrl('sdk_voice') });
    await c.connect();
    const reply = nextReply(c);
    const pcm = Buffer.concat([makeSyntheticSpeech(1200).pcm, Buffer.alloc(48_000)]);
    for (const frame of pcmFrames(pcm, 40)) expect(c.sendAudio(frame)).toBe(true);
    const { audioBytes } = await reply;
    expect(audioBytes).toBeGreaterThan(0);
    const types = messages.map((m) => m.type);
    expect(types.indexOf('input_audio_buffer.speech_started')).toBeGreaterThan(0);
    expect(types.indexOf('input_audio_buffer.speech_stopped')).toBeGreaterThan(
      types.indexOf('input_audio_buffer.speech_started'),
    );
    expect(c.stats.audioChunksSent).toBe(pcmFrames(pcm, 40).length);
  });

  it('configures the session and surfaces a rejected update as an error naming the field', async () => {
    const { c, failures } = client({ url: stack.wsUrl('sdk_config') });
    await c.connect();
    const config = await c.updateSession({ voice: 'verse', temperature: 0.7 });
    expect(config).toMatchObject({ voice: 'verse', temperature: 0.7 });
    expect(c.config).toEqual(config);
    const err = await c.updateSession({ temperature: 5 }).catch((e: unknown) => e);
    expect(RealtimeClientError.is(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'invalid_message',
      field: 'session_update.temperature',
      retryable: false,
    });
    expect(failures.map((f) => f.code)).toEqual(['invalid_message']);
    // The connection stays usable after an error.
    expect(await c.ping()).toBeGreaterThan(0);
    expect(c.state).toBe('open');
  });

  it('surfaces a refused resume as the server error and a terminal close, without retrying', async () => {
    const { c, failures } = client({
      url: `${stack.wsUrl('sdk_refused')}?resume=sess_000000000000000000000`,
    });
    let attempts = 0;
    c.on('reconnecting', () => attempts++);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'connection_closed', closeCode: 4001, retryable: false });
    expect((err as Error).message).toMatch(/SessionNotFound \(4001/);
    expect(failures.map((f) => f.code)).toEqual(['session_not_found', 'connection_closed']);
    expect(c.state).toBe('closed');
    expect(attempts).toBe(0);
  });

  it('authenticates on the authenticated route with a token, as a header or in the browser form', async () => {
    const url = stack.wsUrl('').replace(/\/$/, '');
    const { c } = client({ url });
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'connect_failed' });
    expect((err as Error).message).toMatch(/401/);
    const token = async () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('sdk-user-7')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const { c: header } = client({ url, token });
    expect((await header.connect()).user_id).toBe('sdk-user-7');
    const { c: browserForm } = client({ url, token, tokenTransport: 'subprotocol' });
    expect((await browserForm.connect()).user_id).toBe('sdk-user-7');
  });

  describe('after a network drop', () => {
    let proxy: TcpProxy;
    beforeAll(async () => {
      proxy = await startTcpProxy({ port: stack.gateways[0]!.port });
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it('resumes the same session and loses nothing of a reply cut in the middle', async () => {
      const { c, messages } = client({
        url: `ws://127.0.0.1:${proxy.port}/api/v1/streaming/realtime/sdk_drop`,
        reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
      });
      const first = await c.connect();
      await c.updateSession({ voice: 'sage' });
      const closes: Array<{ code: number; willReconnect: boolean; delayMs?: number }> = [];
      c.on('close', ({ code, willReconnect, delayMs }) => closes.push({ code, willReconnect, delayMs }));
      const reopened = new Promise<OpenEvent>((r) => c.once('open', r));
      const reply = nextReply(c);
      // Cut the network as soon as the reply starts streaming.
      c.once('response.delta', () => proxy.cutAll());
      c.sendText('Can you hear me after the cut?');
      const open = await reopened;
      expect(closes[0]).toMatchObject({ code: 1006, willReconnect: true });
      expect(closes[0]!.delayMs).toBeGreaterThanOrEqual(50);
      expect(open).toMatchObject({ reconnected: true, resumed: true, previousSessionId: first.id });
      expect(c.session?.id).toBe(first.id);
      // Every delta arrives exactly once across the two sockets: the text is whole, nothing repeated.
      expect((await reply).text).toBe('You asked: Can you hear me after the cut?');
      await waitFor(() =>
        messages.some((m) => m.type === 'session.notice' && m.notice.code === 'session_resumed'),
      );
      // The session kept its configuration and history.
      expect(c.config?.voice).toBe('sage');
      expect(c.stats.reconnects).toBe(1);
      expect(proxy.accepted).toBe(2);
    });

    it('opens a new session and restores its configuration when resume is off', async () => {
      const { c } = client({
        url: `ws://127.0.0.1:${proxy.port}/api/v1/streaming/realtime/sdk_fresh`,
        reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
        resume: false,
      });
      const first = await c.connect();
      await c.updateSession({ voice: 'verse', instructions: 'Answer briefly.' });
      const reopened = new Promise<OpenEvent>((r) => c.once('open', r));
      proxy.cutAll();
      expect(await reopened).toMatchObject({
        reconnected: true,
        resumed: false,
        previousSessionId: first.id,
      });
      expect(c.session?.id).not.toBe(first.id);
      await waitFor(() => c.config?.voice === 'verse' && c.config.instructions === 'Answer briefly.', {
        message: 'configuration restored on the new session',
      });
      const reply = nextReply(c);
      c.sendText('Are you still there?');
      expect((await reply).text.length).toBeGreaterThan(0);
    });
  });

  it('moves to another gateway at once when its gateway drains (1012) and resumes there', async () => {
    let target = 0;
    const { c } = client({
      url: () => stack.wsUrl('sdk_drain', target),
      reconnect: { initialDelayMs: 200 },
    });
    const first = await c.connect();
    const reconnecting = new Promise<{ delayMs: number; closeCode: number }>((r) =>
      c.once('reconnecting', r),
    );
    const reopened = new Promise<OpenEvent>((r) => c.once('open', r));
    target = 1;
    const drained = stack.gateways[0]!.stop(1012);
    const { delayMs, closeCode } = await reconnecting;
    expect(closeCode).toBe(1012);
    expect(delayMs).toBeLessThan(200);
    expect(await reopened).toMatchObject({ resumed: true });
    await drained;
    expect(c.session?.id).toBe(first.id);
    expect(stack.gateways[1]!.connections()).toBe(1);
    const reply = nextReply(c);
    c.sendText('Hello from the other gateway');
    expect((await reply).text.length).toBeGreaterThan(0);
  });
});
