// The realtime path end to end: real WebSocket clients → uWS gateway → Redis streams → session worker →
// provider (the local engine) and back, on a real Redis.
import { createKeys } from '@rtv/bus';
import { makeSpeechWav, pcmFrames, WsTestClient, waitFor } from '@rtv/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectValidServerMessages,
  runSeedJavaScriptExample,
  runSpokenTurn,
  speechMessages,
} from './helpers/seed-flow.js';
import { type Stack, startStack, TEST_JWT_SECRET } from './helpers/stack.js';

type Msg = { type: string; [k: string]: unknown };

describe('realtime path (GA provider shape)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs the seed's JavaScript example message for message", async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('test_user'));
    await runSeedJavaScriptExample(ws, 'test_user');
    await ws.close();
  });

  it('passes response.truncate to the provider as conversation.item.truncate for the last reply', async () => {
    const truncates: Array<{ item_id?: string; audio_end_ms?: number; content_index?: number }> = [];
    const onEvent = (_c: string, e: { type: string }) => {
      if (e.type === 'conversation.item.truncate') truncates.push(e as never);
    };
    stack.engine.events.on('client-event', onEvent);
    const ws = await WsTestClient.connect(stack.wsUrl('interrupter'));
    await ws.nextOfType('session.created');
    // Before any reply there is nothing to truncate: ignored, no error.
    ws.send({ type: 'response.truncate', audio_end_ms: 10 });
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Talk to me' },
    });
    await ws.nextOfType('response.done', 10_000);
    ws.send({ type: 'response.truncate', audio_end_ms: 250 });
    await waitFor(() => truncates.length === 1, { message: 'truncate reached the provider' });
    expect(truncates[0]).toMatchObject({ content_index: 0, audio_end_ms: 250 });
    expect(truncates[0]!.item_id).toMatch(/^item_/);
    ws.send({ type: 'ping', ping: { timestamp: 3 } });
    await ws.nextOfType('pong');
    expect((ws.all() as Msg[]).filter((m) => m.type === 'error')).toEqual([]);
    stack.engine.events.off('client-event', onEvent);
    await ws.close();
  });

  it('answers ping at the gateway with the seed pong (timestamp at the top level)', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('pinger'));
    ws.send({ type: 'ping', ping: { timestamp: 1234567890.123 } });
    const pong = await ws.nextOfType('pong');
    expect(pong).toEqual({ type: 'pong', timestamp: 1234567890.123 });
    await ws.close();
  });

  it('turns speech sent as audio into speech events, response.audio and response.done', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('speaker'));
    await ws.nextOfType('session.created');
    await runSpokenTurn(ws);
    await ws.close();
  });

  it('hears real synthesized speech (espeak-ng when installed) sent as binary PCM16 frames', async () => {
    const clip = await makeSpeechWav('Hello there. What is the weather like today?');
    const ws = await WsTestClient.connect(stack.wsUrl('espeaker'));
    await ws.nextOfType('session.created');
    // The binary extension: raw PCM16 24 kHz mono, 20 ms per frame.
    for (const frame of pcmFrames(Buffer.concat([clip.pcm, Buffer.alloc(48_000)]), 20)) ws.send(frame);
    const started = await ws.nextOfType<{ audio_start_ms: number }>(
      'input_audio_buffer.speech_started',
      10_000,
    );
    const stopped = await ws.nextOfType<{ audio_end_ms: number }>(
      'input_audio_buffer.speech_stopped',
      10_000,
    );
    // The detected utterance spans most of the clip.
    expect(stopped.audio_end_ms - started.audio_start_ms).toBeGreaterThan(clip.durationMs * 0.5);
    await ws.nextOfType('response.audio', 10_000);
    await ws.nextOfType('response.done', 10_000);
    await ws.close();
  });

  it('answers bad frames with a stable error code and keeps the session going', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('clumsy'));
    await ws.nextOfType('session.created');
    const bad: Array<[string, string]> = [
      ['{not json', 'invalid_json'],
      ['[1,2,3]', 'invalid_message'],
      [JSON.stringify({ type: 'nope' }), 'unknown_message_type'],
      [JSON.stringify({ type: 'session.update', voice: 'alloy' }), 'invalid_message'],
      [
        JSON.stringify({
          type: 'conversation.item.input',
          conversation_item_input: { type: 'input_audio_buffer', audio: 'AAA' },
        }),
        'invalid_audio',
      ],
      [
        JSON.stringify({
          type: 'conversation.item.input',
          conversation_item_input: { type: 'input_text', text: '  ' },
        }),
        'invalid_message',
      ],
    ];
    for (const [frame, code] of bad) {
      ws.send(frame);
      const err = await ws.nextOfType<{ error: { code: string; message: string } }>('error');
      expect(err.error.code).toBe(code);
      expect(err.error.message.length).toBeGreaterThan(0);
    }
    // The request's event_id comes back with its error, so clients can match them.
    ws.send({ type: 'session.update', event_id: 'evt-42', session_update: { voice: 'nobody' } });
    const tagged = await ws.nextOfType<{ error: { code: string; field?: string; event_id?: string } }>(
      'error',
    );
    expect(tagged.error).toMatchObject({
      code: 'invalid_message',
      field: 'session_update.voice',
      event_id: 'evt-42',
    });
    // Odd-length binary audio (the binary PCM16 extension) is refused the same way.
    ws.send(Buffer.from([1, 2, 3]));
    expect((await ws.nextOfType<{ error: { code: string } }>('error')).error.code).toBe('invalid_audio');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Still there?' },
    });
    await ws.nextOfType('response.done', 10_000);
    expectValidServerMessages(ws);
    await ws.close();
  });

  it('relays a provider failure to the client sanitized', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('unlucky'));
    await ws.nextOfType('session.created');
    stack.engine.failNextResponse({
      type: 'server_error',
      code: 'server_error',
      message: 'backend db-7.internal.example refused; key sk-live-123',
    });
    ws.send({ type: 'conversation.item.input', conversation_item_input: { type: 'input_text', text: 'Hi' } });
    const err = await ws.nextOfType<{ error: { code: string; message: string } }>('error', 10_000);
    expect(err.error.code).toBe('upstream_server_error');
    expect(err.error.message).not.toMatch(/db-7|sk-live|internal\.example/);
    const done = await ws.nextOfType<{ response: { status?: string } }>('response.done', 10_000);
    expect(done.response.status).toBe('failed');
    // The session survives a failed response.
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Again' },
    });
    const next = await ws.nextOfType<{ response: { status?: string } }>('response.done', 10_000);
    expect(next.response.status).toBe('completed');
    await ws.close();
  });

  it('ends the upstream session and removes the session keys when the client closes', async () => {
    const before = stack.engine.connections();
    const ws = await WsTestClient.connect(stack.wsUrl('leaver'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    const sid = created.session.id;
    const sessionKey = createKeys(stack.redis.prefix).session(sid);
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Remember me' },
    });
    await ws.nextOfType('response.done', 10_000);
    expect(await stack.redis.redis.exists(sessionKey)).toBe(1);
    await waitFor(async () => (await stack.redis.redis.llen(`${sessionKey}:history`)) === 2, {
      message: 'history holds the user and assistant items',
    });
    await ws.close();
    await waitFor(() => stack.engine.connections() === before, { message: 'upstream closed' });
    await waitFor(async () => (await stack.redis.redis.exists(sessionKey, `${sessionKey}:history`)) === 0, {
      message: 'session keys removed',
    });
  });

  it('refuses bad upgrades before the handshake', async () => {
    await expect(WsTestClient.connect(stack.wsUrl('bad%20user'))).rejects.toThrow(/HTTP 400/);
    await expect(WsTestClient.connect(stack.wsUrl('x'.repeat(129)))).rejects.toThrow(/HTTP 400/);
    const authUrl = stack.wsUrl('').replace(/\/$/, '');
    await expect(WsTestClient.connect(authUrl)).rejects.toThrow(/HTTP 401/);
    await expect(WsTestClient.connect(authUrl, { headers: { authorization: 'Bearer ' } })).rejects.toThrow(
      /HTTP 401/,
    );
    await expect(
      WsTestClient.connect(authUrl, { headers: { authorization: 'Bearer not-a-jwt' } }),
    ).rejects.toThrow(/HTTP 401/);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('user-42')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const ok = await WsTestClient.connect(authUrl, { headers: { authorization: `Bearer ${token}` } });
    const created = await ok.nextOfType<{ session: { user_id: string } }>('session.created');
    expect(created.session.user_id).toBe('user-42');
    await ok.close();
  });

  it('serves the seed HTTP endpoints on the gateway port', async () => {
    const status = await fetch(stack.httpUrl('/api/v1/streaming/realtime/status'));
    expect(status.status).toBe(200);
    const body = (await status.json()) as { status: string; connections: number };
    expect(body.status).toBe('running');
    expect(typeof body.connections).toBe('number');
    const health = await fetch(stack.httpUrl('/api/v1/streaming/realtime/health'));
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe('healthy');
    const missing = await fetch(stack.httpUrl('/nope'));
    expect(missing.status).toBe(404);
  });
});

describe('realtime path (beta provider shape)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ shape: 'beta' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs a text turn and an audio turn through a beta-shape provider', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('beta_user'));
    await ws.nextOfType('session.created');
    ws.send({ type: 'session.update', session_update: { voice: 'verse', temperature: 0.7 } });
    const updated = await ws.nextOfType<{ session: { voice: string; temperature: number } }>(
      'session.update',
    );
    expect(updated.session).toMatchObject({ voice: 'verse', temperature: 0.7 });
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'Hello' },
    });
    await ws.nextOfType('response.delta', 10_000);
    await ws.nextOfType('response.done', 10_000);
    for (const m of speechMessages(1000)) ws.send(m);
    await ws.nextOfType('input_audio_buffer.speech_started', 10_000);
    await ws.nextOfType('response.audio', 10_000);
    await ws.nextOfType('response.done', 10_000);
    expectValidServerMessages(ws);
    await ws.close();
  });
});
