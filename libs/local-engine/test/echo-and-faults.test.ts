import { describe, expect, it } from 'vitest';
import { askText, connect, engine, type Json, responseOf, session, silence, speechBurst } from './helpers.js';

describe('echo mode', () => {
  it('answers each append at once with one delta carrying the identical base64 string', async () => {
    const e = await engine({ mode: 'echo' });
    const client = await session(e);
    const seen: unknown[] = [];
    e.events.on('client-event', (_id, event) => seen.push(event));
    const chunks = [speechBurst(100), silence(20), speechBurst(20)].map((b) => b.toString('base64'));
    // The SDK's canonical shape (fast path) and a shape with extra fields (parsed path).
    client.send(`{"type":"input_audio_buffer.append","audio":"${chunks[0]}"}`);
    client.send({ event_id: 'evt_2', type: 'input_audio_buffer.append', audio: chunks[1] });
    client.send({ type: 'input_audio_buffer.append', audio: chunks[2] });
    const deltas: Json[] = [await client.next(), await client.next(), await client.next()];
    expect(deltas.map((d) => d.type)).toEqual(Array(3).fill('response.output_audio.delta'));
    expect(deltas.map((d) => d.delta)).toEqual(chunks);
    expect(deltas[0]).toMatchObject({
      output_index: 0,
      content_index: 0,
      response_id: expect.stringMatching(/^resp_/),
    });
    expect(new Set(deltas.map((d) => d.event_id)).size).toBe(3);
    expect(seen).toEqual([
      { type: 'input_audio_buffer.append', audio: chunks[0] },
      { event_id: 'evt_2', type: 'input_audio_buffer.append', audio: chunks[1] },
      { type: 'input_audio_buffer.append', audio: chunks[2] },
    ]);
  });

  it('runs no VAD and no responses for audio, but still answers text turns', async () => {
    const client = await session(await engine({ mode: 'echo' }));
    const turn = Buffer.concat([speechBurst(800), silence(800)]).toString('base64');
    client.send({ type: 'input_audio_buffer.append', audio: turn });
    expect((await client.next()).type).toBe('response.output_audio.delta');
    askText(client, 'ping');
    const events = await client.through('response.done');
    expect(events.map((x) => x.type)).not.toContain('input_audio_buffer.speech_started');
    expect(events[0]!.type).toBe('conversation.item.added');
    expect(responseOf(events.at(-1)).status).toBe('completed');
  });

  it('uses the beta delta name for beta clients', async () => {
    const client = await session(await engine({ mode: 'echo', allowBetaShape: true }), {
      headers: { 'OpenAI-Beta': 'realtime=v1' },
    });
    client.send({ type: 'input_audio_buffer.append', audio: 'AAAA' });
    expect(await client.next()).toMatchObject({ type: 'response.audio.delta', delta: 'AAAA' });
  });
});

describe('fault injection and lifecycle', () => {
  it('dropAll() cuts every socket abruptly', async () => {
    const e = await engine();
    const [a, b] = [await session(e), await session(e)];
    expect(e.connections()).toBe(2);
    e.dropAll();
    expect((await a.closed).code).toBe(1006);
    expect((await b.closed).code).toBe(1006);
    await a.until(() => e.connections() === 0, 'the engine to forget its sessions');
  });

  it('drop(id) cuts only the session with that id, by its session.created id', async () => {
    const e = await engine();
    const [a, b] = [await session(e), await session(e)];
    const idOf = (client: typeof a) => (client.received[0]!.session as { id: string }).id;
    expect(e.drop('sess_none')).toBe(false);
    expect(e.drop(idOf(a))).toBe(true);
    expect((await a.closed).code).toBe(1006);
    await b.until(() => e.connections() === 1, 'the engine to forget the dropped session');
    expect(b.ws.readyState).toBe(b.ws.OPEN);
    expect(e.drop(idOf(b), 1012)).toBe(true);
    expect((await b.closed).code).toBe(1012);
    while (e.connections() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(e.drop(idOf(b))).toBe(false);
  });

  it('dropAll(code) closes cleanly with that code', async () => {
    const e = await engine();
    const client = await session(e);
    e.dropAll(1012);
    expect((await client.closed).code).toBe(1012);
  });

  it('expires the session with session_expired and close 1001', async () => {
    const client = await session(await engine({ maxSessionMs: 150 }));
    const err = await client.next('error');
    expect(err.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'session_expired',
      message: 'Your session hit the maximum duration of 0.15 seconds.',
    });
    expect(await client.closed).toEqual({
      code: 1001,
      reason: 'Your session hit the maximum duration of 0.15 seconds.',
    });
  });

  it('pings every pingIntervalMs', async () => {
    const client = await session(await engine({ pingIntervalMs: 20 }));
    await client.until(() => client.pings >= 2, 'two pings');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('reports every client event per connection, in order', async () => {
    const e = await engine();
    const log: [string, unknown][] = [];
    let connId = '';
    e.events.on('connection', (id: string) => {
      connId = id;
    });
    e.events.on('client-event', (id: string, event: { type: string }) => log.push([id, event.type]));
    const client = await connect(e);
    const created = await client.next('session.created');
    expect(connId).toBe((created.session as { id: string }).id);
    askText(client, 'one');
    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    expect(log).toEqual([
      [connId, 'conversation.item.create'],
      [connId, 'response.create'],
      [connId, 'input_audio_buffer.clear'],
    ]);
  });

  it('close() terminates open sockets and stops listening', async () => {
    const e = await engine();
    const client = await session(e);
    await e.close();
    expect((await client.closed).code).toBe(1006);
    await expect(connect(e)).rejects.toThrow();
  });

  it('rejects invalid options up front', async () => {
    await expect(engine({ maxSessionMs: 0 })).rejects.toThrow(RangeError);
    await expect(engine({ path: 'v1/realtime' })).rejects.toThrow(TypeError);
    await expect(engine({ handshakeDelayMs: -1 })).rejects.toThrow(RangeError);
  });
});
