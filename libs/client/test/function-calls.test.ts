// Function tools, user transcripts and text interrupts against the scripted server on real sockets.
import type { FunctionTool } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RealtimeClientOptions, RealtimeVoiceClient } from '../src/client.js';
import type { RealtimeClientError } from '../src/errors.js';
import type { FunctionCall, FunctionCallOutputEvent } from '../src/function-calls.js';
import { type Peer, type PeerConnection, startPeer } from './peer.js';

const peers: Peer[] = [];
const clients: RealtimeVoiceClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

const weather: FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function setup(options: Partial<RealtimeClientOptions> = {}) {
  const peer = await startPeer();
  peers.push(peer);
  const client = new RealtimeVoiceClient({
    url: peer.url(),
    WebSocket,
    heartbeatIntervalMs: false,
    ...options,
  });
  clients.push(client);
  const failures: RealtimeClientError[] = [];
  const calls: FunctionCall[] = [];
  const outputs: FunctionCallOutputEvent[] = [];
  client.on('failure', (f) => failures.push(f));
  client.on('functionCall', (c) => calls.push(c));
  client.on('functionCallOutput', (o) => outputs.push(o));
  await client.connect();
  const conn = await peer.connection(1);
  return { peer, client, conn, failures, calls, outputs };
}

function send(conn: PeerConnection, message: unknown): void {
  conn.ws.send(JSON.stringify(message));
}

function functionCall(callId: string, name: string, args: string, seq?: number) {
  return {
    type: 'response.function_call',
    response: { call_id: callId, name, arguments: args, timestamp: 1 },
    ...(seq === undefined ? {} : { seq }),
  };
}

function responseDone(status?: 'completed' | 'cancelled', seq?: number) {
  return {
    type: 'response.done',
    response: { usage: { input_tokens: 1, output_tokens: 1 }, timestamp: 1, ...(status ? { status } : {}) },
    ...(seq === undefined ? {} : { seq }),
  };
}

/** The `conversation_item_input` of every function_call_output the peer received on `conn`. */
function outputsOn(conn: PeerConnection): Array<{ call_id: string; output: string; respond?: boolean }> {
  return conn.received
    .map((m) => (m as { conversation_item_input?: { type: string } }).conversation_item_input)
    .filter((i) => i?.type === 'function_call_output')
    .map((i) => {
      const { type: _type, ...rest } = i as { type: string; call_id: string; output: string };
      return rest;
    });
}

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

describe('function tools', () => {
  it('sends the tools option in the session configuration, in place of session.tools', async () => {
    const other: FunctionTool = { type: 'function', name: 'other' };
    const { client, conn } = await setup({
      tools: [weather],
      session: { voice: 'verse', tools: [other], tool_choice: 'auto' },
    });
    await waitFor(() => conn.received.length === 1);
    expect(conn.received[0]).toMatchObject({
      type: 'session.update',
      session_update: { voice: 'verse', tools: [weather], tool_choice: 'auto' },
    });
    await waitFor(() => client.config?.tools !== undefined);
    expect(client.config?.tools).toEqual([weather]);
  });

  it("answers a call with the handler's return value once the reply is done: JSON, or a string as is", async () => {
    const seen: FunctionCall[] = [];
    const { conn, calls, outputs, failures } = await setup({
      onFunctionCall: (call) => {
        seen.push(call);
        return call.name === 'get_weather' ? { temperature_c: 21, sky: 'clear' } : 'plain text';
      },
    });
    send(conn, functionCall('call_1', 'get_weather', '{"city":"Lisbon"}'));
    await waitFor(() => seen.length === 1);
    // Not before the reply that made the call is done.
    await settle();
    expect(outputsOn(conn)).toEqual([]);
    send(conn, responseDone());
    await waitFor(() => outputsOn(conn).length === 1);
    expect(seen[0]).toEqual({
      callId: 'call_1',
      name: 'get_weather',
      arguments: '{"city":"Lisbon"}',
      parsedArguments: { city: 'Lisbon' },
    });
    expect(calls).toEqual(seen);
    expect(outputsOn(conn)).toEqual([{ call_id: 'call_1', output: '{"temperature_c":21,"sky":"clear"}' }]);

    // Arguments that are not JSON: the handler gets the text only.
    send(conn, functionCall('call_2', 'echo', 'not json'));
    send(conn, responseDone());
    await waitFor(() => outputsOn(conn).length === 2);
    expect(seen[1]).toEqual({ callId: 'call_2', name: 'echo', arguments: 'not json' });
    expect(outputsOn(conn)[1]).toEqual({ call_id: 'call_2', output: 'plain text' });
    expect(outputs.map((o) => [o.callId, o.name, o.failed, o.respond])).toEqual([
      ['call_1', 'get_weather', false, true],
      ['call_2', 'echo', false, true],
    ]);
    expect(failures).toEqual([]);
  });

  it('waits for an async handler, and answers undefined as an empty output', async () => {
    let resolve: (value: unknown) => void = () => undefined;
    const { conn } = await setup({
      onFunctionCall: (call) =>
        call.callId === 'call_slow' ? new Promise((r) => (resolve = r)) : Promise.resolve(undefined),
    });
    send(conn, functionCall('call_slow', 'get_weather', '{}'));
    send(conn, responseDone());
    await settle();
    expect(outputsOn(conn)).toEqual([]);
    resolve({ ok: true });
    await waitFor(() => outputsOn(conn).length === 1);
    expect(outputsOn(conn)[0]).toEqual({ call_id: 'call_slow', output: '{"ok":true}' });
    send(conn, functionCall('call_void', 'get_weather', '{}'));
    send(conn, responseDone());
    await waitFor(() => outputsOn(conn).length === 2);
    expect(outputsOn(conn)[1]).toEqual({ call_id: 'call_void', output: '' });
  });

  it('answers {"error": message} for a throw, a rejection or an unsendable value, and reports it', async () => {
    const { conn, failures, outputs } = await setup({
      onFunctionCall: (call) => {
        if (call.name === 'throws') throw new Error('no such city');
        if (call.name === 'rejects') return Promise.reject(new Error('backend down'));
        if (call.name === 'bigint') return { n: 1n };
        return 'x'.repeat(65_537);
      },
    });
    for (const [i, name] of ['throws', 'rejects', 'bigint', 'huge'].entries()) {
      send(conn, functionCall(`call_${i}`, name, '{}'));
      send(conn, responseDone());
    }
    await waitFor(() => outputsOn(conn).length === 4);
    const errors = outputsOn(conn).map((o) => JSON.parse(o.output).error as string);
    expect(errors[0]).toBe('no such city');
    expect(errors[1]).toBe('backend down');
    expect(errors[2]).toMatch(/BigInt/);
    expect(errors[3]).toMatch(/65537 characters; the protocol allows at most 65536/);
    expect(outputs.map((o) => o.failed)).toEqual([true, true, true, true]);
    expect(failures.map((f) => [f.code, f.retryable])).toEqual(
      Array(4).fill(['function_call_failed', false]),
    );
    expect(failures[0]!.message).toBe(
      'throws (call call_0) failed: no such city; the model was sent the error',
    );
    expect((failures[0]!.cause as Error).message).toBe('no such city');
  });

  it('answers the calls of one reply together, in call order, asking for one follow-up', async () => {
    let resolveFirst: (value: unknown) => void = () => undefined;
    const { conn } = await setup({
      onFunctionCall: (call) =>
        call.callId === 'call_a' ? new Promise((r) => (resolveFirst = r)) : `${call.callId} done`,
    });
    send(conn, functionCall('call_a', 'slow', '{}'));
    send(conn, functionCall('call_b', 'fast', '{}'));
    send(conn, responseDone());
    await settle();
    // The fast answer waits for the slow one.
    expect(outputsOn(conn)).toEqual([]);
    resolveFirst('call_a done');
    await waitFor(() => outputsOn(conn).length === 2);
    expect(outputsOn(conn)).toEqual([
      { call_id: 'call_a', output: 'call_a done', respond: false },
      { call_id: 'call_b', output: 'call_b done' },
    ]);
  });

  it('reports a call whose id it cannot answer, and goes on with the others', async () => {
    const { conn, failures } = await setup({ onFunctionCall: () => 'ok' });
    send(conn, functionCall('x'.repeat(65), 'f', '{}'));
    send(conn, functionCall('call_ok', 'f', '{}'));
    send(conn, responseDone());
    await waitFor(() => outputsOn(conn).length === 1);
    expect(outputsOn(conn)).toEqual([{ call_id: 'call_ok', output: 'ok' }]);
    expect(failures.map((f) => f.code)).toEqual(['invalid_argument']);
  });

  it('asks for no follow-up when the reply that made the calls was cancelled', async () => {
    const { conn, outputs } = await setup({ onFunctionCall: () => 'ok' });
    send(conn, functionCall('call_c', 'f', '{}'));
    send(conn, responseDone('cancelled'));
    await waitFor(() => outputsOn(conn).length === 1);
    expect(outputsOn(conn)).toEqual([{ call_id: 'call_c', output: 'ok', respond: false }]);
    expect(outputs[0]!.respond).toBe(false);
  });

  it('does not answer a call again when a resumed session delivers it again', async () => {
    const handled: string[] = [];
    const { peer, client, conn, calls } = await setup({
      reconnect: { initialDelayMs: 20 },
      onFunctionCall: (call) => {
        handled.push(call.callId);
        return { n: handled.length };
      },
    });
    send(conn, functionCall('call_r', 'get_weather', '{}', 5));
    send(conn, responseDone('completed', 6));
    await waitFor(() => outputsOn(conn).length === 1);
    conn.ws.close(1012, 'service restart');
    const second = await peer.connection(2);
    expect(second.query.get('resume')).toBe(conn.sessionId);
    await waitFor(() => client.state === 'open');
    // A recovered server re-sends the call under new numbers (and a replay may repeat the old ones).
    send(second, functionCall('call_r', 'get_weather', '{}', 6));
    send(second, functionCall('call_r', 'get_weather', '{}', 9));
    send(second, responseDone('completed', 10));
    send(second, functionCall('call_new', 'get_weather', '{}', 11));
    send(second, responseDone('completed', 12));
    await waitFor(() => outputsOn(second).length === 1);
    await settle();
    expect(handled).toEqual(['call_r', 'call_new']);
    expect(calls.map((c) => c.callId)).toEqual(['call_r', 'call_new']);
    expect(outputsOn(second)).toEqual([{ call_id: 'call_new', output: '{"n":2}' }]);
  });

  it('sends an answer that settles while disconnected to the resumed session, not to a new one', async () => {
    for (const resume of [true, false]) {
      let resolve: (value: unknown) => void = () => undefined;
      const { peer, client, conn } = await setup({
        reconnect: { initialDelayMs: 100 },
        resume,
        onFunctionCall: () => new Promise((r) => (resolve = r)),
      });
      send(conn, functionCall('call_w', 'get_weather', '{}'));
      send(conn, responseDone());
      await settle();
      const closed = new Promise((r) => client.once('close', r));
      conn.ws.close(1012, 'service restart');
      await closed;
      expect(client.state).toBe('reconnecting');
      resolve('late');
      const second = await peer.connection(2);
      await waitFor(() => client.state === 'open');
      await settle(100);
      expect(outputsOn(conn)).toEqual([]);
      expect(outputsOn(second)).toEqual(resume ? [{ call_id: 'call_w', output: 'late' }] : []);
      await client.close();
    }
  });

  it('answers manually with sendFunctionOutput, once per call id, checking what the protocol would reject', async () => {
    const { client, conn, calls, outputs } = await setup();
    send(conn, functionCall('call_m', 'get_weather', '{"city":"Porto"}'));
    await waitFor(() => calls.length === 1);
    expect(calls[0]).toMatchObject({ callId: 'call_m', parsedArguments: { city: 'Porto' } });
    expect(client.sendFunctionOutput('call_m', { temperature_c: 18 }, { respond: false })).toBe(true);
    expect(client.sendFunctionOutput('call_m', 'again')).toBe(false);
    expect(client.sendFunctionOutput('call_unseen', 'text')).toBe(true);
    await waitFor(() => outputsOn(conn).length === 2);
    expect(outputsOn(conn)).toEqual([
      { call_id: 'call_m', output: '{"temperature_c":18}', respond: false },
      { call_id: 'call_unseen', output: 'text' },
    ]);
    expect(outputs.map((o) => [o.callId, o.name, o.respond])).toEqual([
      ['call_m', 'get_weather', false],
      ['call_unseen', undefined, true],
    ]);
    expect(() => client.sendFunctionOutput('', 'x')).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => client.sendFunctionOutput('c'.repeat(65), 'x')).toThrow(/callId must be 1-64 characters/);
    expect(() => client.sendFunctionOutput('call_bigint', { n: 1n })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => client.sendFunctionOutput('call_big', 'x'.repeat(65_537))).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    await client.close();
    expect(() => client.sendFunctionOutput('call_late', 'x')).toThrow(
      expect.objectContaining({ code: 'not_connected' }),
    );
  });

  it('forgets the oldest call ids beyond REMEMBERED_CALLS', async () => {
    const { REMEMBERED_CALLS } = await import('../src/function-calls.js');
    const { client, conn } = await setup();
    for (let i = 0; i <= REMEMBERED_CALLS; i++) client.sendFunctionOutput(`call_${i}`, 'x');
    // call_0 was forgotten, call_1 is still remembered.
    expect(client.sendFunctionOutput('call_1', 'x')).toBe(false);
    expect(client.sendFunctionOutput('call_0', 'x')).toBe(true);
    await waitFor(() => outputsOn(conn).length === REMEMBERED_CALLS + 2);
  });
});

describe('transcripts, text interrupts and error details', () => {
  it('delivers the pieces and the final text of user transcripts as transcript events', async () => {
    const { client, conn } = await setup();
    const events: unknown[] = [];
    client.on('transcript', (t) => events.push(t));
    const piece = (text: string, final: boolean) => ({
      type: 'conversation.item.transcript',
      conversation_item_transcript: { item_id: 'item_1', role: 'user', text, final },
      timestamp: 1,
    });
    send(conn, piece("What's the", false));
    send(conn, piece(' weather', false));
    send(conn, piece("What's the weather?", true));
    await waitFor(() => events.length === 3);
    expect(events).toEqual([
      { itemId: 'item_1', role: 'user', text: "What's the", final: false },
      { itemId: 'item_1', role: 'user', text: ' weather', final: false },
      { itemId: 'item_1', role: 'user', text: "What's the weather?", final: true },
    ]);
  });

  it('sends interrupt: true with a text only when asked', async () => {
    const { client, conn } = await setup();
    client.sendText('queued');
    client.sendText('Actually, Porto.', { interrupt: true });
    await waitFor(() => conn.received.length === 2);
    expect(
      conn.received.map((m) => (m as { conversation_item_input: unknown }).conversation_item_input),
    ).toEqual([
      { type: 'input_text', text: 'queued' },
      { type: 'input_text', text: 'Actually, Porto.', interrupt: true },
    ]);
  });

  it("carries the error's param into the failure", async () => {
    const { conn, failures } = await setup();
    send(conn, {
      type: 'error',
      error: {
        code: 'upstream_invalid_request',
        message: 'The speech model rejected the tools',
        event_id: 'rtv-upd-1',
        param: 'session.tools[0].parameters',
      },
    });
    await waitFor(() => failures.length === 1);
    expect(failures[0]).toMatchObject({
      code: 'upstream_invalid_request',
      retryable: false,
      eventId: 'rtv-upd-1',
      param: 'session.tools[0].parameters',
    });
  });
});
