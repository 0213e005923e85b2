// The client against a scripted server on real sockets: the edge cases (silent servers, unanswered pings,
// arbitrary close codes, junk frames). The full stack is exercised in tests/e2e/client-sdk.int.test.ts.
import { CloseCode, closeCodeInfo } from '@rtv/protocol';
import { waitFor } from '@rtv/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RealtimeClientOptions, RealtimeVoiceClient } from '../src/client.js';
import { RealtimeClientError } from '../src/errors.js';
import { type Peer, type PeerBehaviour, startPeer } from './peer.js';

const peers: Peer[] = [];
const clients: RealtimeVoiceClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function setup(
  options: Partial<RealtimeClientOptions> = {},
  behaviour: PeerBehaviour = {},
): Promise<{ peer: Peer; client: RealtimeVoiceClient; failures: RealtimeClientError[]; events: string[] }> {
  const peer = await startPeer(behaviour);
  peers.push(peer);
  const client = new RealtimeVoiceClient({
    url: peer.url(),
    WebSocket,
    heartbeatIntervalMs: false,
    ...options,
  });
  clients.push(client);
  const failures: RealtimeClientError[] = [];
  const events: string[] = [];
  client.on('failure', (f) => failures.push(f));
  client.on('state', ({ state }) => events.push(`state:${state}`));
  client.on('message', (m) => events.push(m.type));
  client.on('open', (o) => events.push(`open:${o.reconnected ? 'again' : 'first'}`));
  client.on('close', (c) => events.push(`close:${c.code}${c.willReconnect ? ':retry' : ''}`));
  return { peer, client, failures, events };
}

describe('RealtimeVoiceClient (scripted server)', () => {
  it('opens on session.created, then applies the configured session', async () => {
    const { peer, client, events } = await setup({ session: { voice: 'verse', instructions: 'Be brief.' } });
    const session = await client.connect();
    expect(session.id).toBe('sess_peer1');
    expect(client.state).toBe('open');
    expect(events).toEqual(['state:connecting', 'state:open', 'session.created', 'open:first']);
    const conn = await peer.connection(1);
    await waitFor(() => conn.received.length === 1);
    expect(conn.received[0]).toMatchObject({
      type: 'session.update',
      session_update: { voice: 'verse', instructions: 'Be brief.' },
    });
    await waitFor(() => client.config?.voice === 'verse', { message: 'config from the server' });
    expect(conn.headers['sec-websocket-protocol']).toBe('rtv.v1');
  });

  it('sends audio as binary PCM16 frames, or as seed JSON with base64 when asked', async () => {
    const { peer, client } = await setup();
    await client.connect();
    const pcm = Int16Array.of(0, 1000, -1000, 32767);
    expect(client.sendAudio(pcm)).toBe(true);
    const jsonClient = new RealtimeVoiceClient({ url: peer.url(), WebSocket, audioFrames: 'json' });
    clients.push(jsonClient);
    await jsonClient.connect();
    jsonClient.sendAudio(new Uint8Array(pcm.buffer));
    const [binary, json] = await Promise.all([peer.connection(1), peer.connection(2)]);
    await waitFor(() => binary.received.length === 1 && json.received.length === 1);
    expect(Buffer.isBuffer(binary.received[0])).toBe(true);
    expect(Array.from(binary.received[0] as Buffer)).toEqual(Array.from(new Uint8Array(pcm.buffer)));
    expect(json.received[0]).toEqual({
      type: 'conversation.item.input',
      conversation_item_input: {
        type: 'input_audio_buffer',
        audio: Buffer.from(pcm.buffer).toString('base64'),
      },
    });
    expect(client.stats.audioChunksSent).toBe(1);
  });

  it('rejects what the protocol would reject before sending it', async () => {
    const { client } = await setup();
    // Not connected yet: audio is dropped (and counted), other sends throw not_connected.
    expect(client.sendAudio(new Uint8Array(4))).toBe(false);
    expect(client.stats.audioChunksDropped).toBe(1);
    expect(() => client.sendText('hi')).toThrow(expect.objectContaining({ code: 'not_connected' }));
    await client.connect();
    for (const bad of [new Uint8Array(0), new Uint8Array(3), new Uint8Array(786_434)]) {
      expect(() => client.sendAudio(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
    expect(() => client.sendText('   ')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => client.sendText('x'.repeat(16_385))).toThrow(/1-16384 characters/);
  });

  it('measures the round trip with ping and times out when no pong comes', async () => {
    const { peer, client } = await setup({ pingTimeoutMs: 200 });
    await client.connect();
    const rtt = await client.ping();
    expect(rtt).toBeGreaterThan(0);
    expect(client.latencyMs).toBe(rtt);
    peer.behaviour.pong = false;
    const err = await client.ping().catch((e: unknown) => e);
    expect(RealtimeClientError.is(err) && err.code).toBe('ping_timeout');
    expect(client.state).toBe('open');
  });

  it('treats a missed heartbeat as a dead connection and resumes the session', async () => {
    const { peer, client, failures } = await setup(
      { heartbeatIntervalMs: 100, pingTimeoutMs: 150, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } },
      { pong: false },
    );
    await client.connect();
    const reopened = new Promise((resolve) => client.once('open', resolve));
    expect(await reopened).toMatchObject({
      reconnected: true,
      resumed: true,
      previousSessionId: 'sess_peer1',
    });
    expect(failures.map((f) => f.code)).toContain('ping_timeout');
    expect(client.session?.id).toBe('sess_peer1');
    expect(peer.connections).toHaveLength(2);
  });

  it('closes an unresponsive socket with a code the gateway keeps the session for, where it cannot terminate', async () => {
    // Browsers' WebSocket has no terminate(): the client must close with a code that means "I will resume".
    class BrowserLikeWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        Object.defineProperty(this, 'terminate', { value: undefined });
      }
    }
    const { peer, client } = await setup(
      {
        WebSocket: BrowserLikeWebSocket as unknown as RealtimeClientOptions['WebSocket'],
        heartbeatIntervalMs: 100,
        pingTimeoutMs: 150,
        reconnect: { initialDelayMs: 20, maxDelayMs: 40 },
      },
      { pong: false },
    );
    await client.connect();
    const closed = new Promise<number>((resolve) => peer.connections[0]!.ws.once('close', resolve));
    const code = await closed;
    expect(code).toBe(CloseCode.ClientReconnecting);
    expect(closeCodeInfo(code).resume).toBe(true);
  });

  it('fails connect() with connect_timeout when session.created never comes, without retrying', async () => {
    const { peer, client } = await setup({ connectTimeoutMs: 200 }, { greet: false });
    const err = await client.connect().catch((e: unknown) => e);
    expect(RealtimeClientError.is(err) && err.code).toBe('connect_timeout');
    expect(client.state).toBe('closed');
    expect(peer.connections).toHaveLength(1);
  });

  it('fails connect() with connect_failed when nothing listens or the upgrade is refused', async () => {
    const { peer } = await setup();
    const refused = new RealtimeClientError('connect_failed', '');
    for (const url of [peer.url('/needs-auth'), 'ws://127.0.0.1:1/api/v1/streaming/realtime/x']) {
      const client = new RealtimeVoiceClient({ url, WebSocket });
      const err = await client.connect().catch((e: unknown) => e);
      expect(RealtimeClientError.is(err) && err.code).toBe(refused.code);
      expect((err as Error).message).toMatch(/401|ECONNREFUSED/);
      expect(client.state).toBe('closed');
    }
    const bad = new RealtimeVoiceClient({ url: 'not a url', WebSocket });
    expect(await bad.connect().catch((e: RealtimeClientError) => e.code)).toBe('invalid_argument');
  });

  it('stops on a terminal close code and says why', async () => {
    const { peer, client, failures, events } = await setup();
    await client.connect();
    (await peer.connection(1)).ws.close(4401, 'token expired');
    await waitFor(() => client.state === 'closed');
    expect(failures.map((f) => [f.code, f.closeCode, f.retryable])).toEqual([
      ['connection_closed', 4401, false],
    ]);
    expect(failures[0]!.message).toMatch(/Unauthorized \(4401 token expired\)/);
    expect(events.at(-1)).toBe('close:4401');
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.connections).toHaveLength(1);
  });

  it('resumes at once after 1012: same session, missed messages after last_seq, no duplicates', async () => {
    const { peer, client, events } = await setup({ reconnect: { initialDelayMs: 50 } });
    const deltas: string[] = [];
    client.on('response.delta', (m) => deltas.push(m.response.delta.content));
    await client.connect();
    await client.updateSession({ voice: 'sage' });
    const first = await peer.connection(1);
    expect(first.query.get('seq')).toBe('1');
    expect(first.query.has('resume')).toBe(false);
    const delta = (content: string, seq: number) =>
      JSON.stringify({ type: 'response.delta', response: { delta: { content }, timestamp: 1 }, seq });
    first.ws.send(delta('a', 7));
    first.ws.send(delta('b', 8));
    await waitFor(() => deltas.length === 2);
    first.ws.close(1012, 'service restart');
    const second = await peer.connection(2);
    expect(second.query.get('resume')).toBe('sess_peer1');
    // The token travels as a subprotocol entry, never in the URL (proxies log URLs).
    expect(second.query.has('resume_token')).toBe(false);
    expect(second.protocols).toEqual(['rtv.v1', 'rtv.resume.rt_sess_peer1_1']);
    expect(second.query.get('last_seq')).toBe('8');
    await waitFor(() => client.state === 'open');
    // A replay that overlaps what already arrived: the repeat is dropped.
    second.ws.send(delta('b', 8));
    second.ws.send(delta('c', 9));
    await waitFor(() => deltas.length === 3);
    expect(deltas).toEqual(['a', 'b', 'c']);
    expect(events).toContain('close:1012:retry');
    expect(events).toContain('open:again');
    expect(events).toContain('session.notice');
    expect(client.session).toMatchObject({ id: 'sess_peer1', resume_token: 'rt_sess_peer1_2' });
    expect(client.stats.reconnects).toBe(1);
    // The resumed session kept its configuration: nothing is re-sent.
    await new Promise((r) => setTimeout(r, 50));
    expect(second.received).toEqual([]);
  });

  it('retries a resume answered with session_in_use and 1013, with the same token, until it is taken', async () => {
    const { peer, client, events } = await setup(
      { reconnect: { initialDelayMs: 20, maxDelayMs: 40 } },
      { busyResumes: 2 },
    );
    await client.connect();
    (await peer.connection(1)).ws.terminate();
    const fourth = await peer.connection(4);
    for (const n of [2, 3, 4]) {
      const conn = await peer.connection(n);
      expect(conn.query.get('resume')).toBe('sess_peer1');
      expect(conn.protocols).toEqual(['rtv.v1', 'rtv.resume.rt_sess_peer1_1']);
    }
    await waitFor(() => client.state === 'open');
    expect(client.session?.id).toBe('sess_peer1');
    expect(events.filter((e) => e === 'close:1013:retry')).toHaveLength(2);
    expect(fourth.protocols).toContain('rtv.resume.rt_sess_peer1_1');
  });

  it('stops after 4409 (resumed elsewhere): no reconnect, no resume that would take the session back', async () => {
    const { peer, client, events } = await setup({ reconnect: { initialDelayMs: 10 } });
    await client.connect();
    (await peer.connection(1)).ws.close(4409, 'session resumed elsewhere');
    await waitFor(() => client.state === 'closed');
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.connections).toHaveLength(1);
    expect(events).toContain('close:4409');
  });

  it('starts a new session at once when the resume is refused, and restores its configuration', async () => {
    const { peer, client, failures } = await setup({ reconnect: { initialDelayMs: 50 } }, { resume: false });
    await client.connect();
    await client.updateSession({ voice: 'sage' });
    (await peer.connection(1)).ws.close(1001, 'going away');
    const third = await peer.connection(3);
    await waitFor(() => client.state === 'open' && client.session?.id === 'sess_peer3');
    expect((await peer.connection(2)).query.get('resume')).toBe('sess_peer1');
    expect(third.query.has('resume')).toBe(false);
    expect(failures.map((f) => f.code)).toEqual(['session_not_found']);
    await waitFor(() => third.received.length === 1);
    expect(third.received[0]).toMatchObject({ type: 'session.update', session_update: { voice: 'sage' } });
  });

  it('opens a new session and restores the configuration when resume is off', async () => {
    const { peer, client, events } = await setup({ reconnect: { initialDelayMs: 50 }, resume: false });
    await client.connect();
    await client.updateSession({ voice: 'sage' });
    expect((await peer.connection(1)).query.has('seq')).toBe(false);
    (await peer.connection(1)).ws.close(1012, 'service restart');
    const second = await peer.connection(2);
    expect(second.query.has('resume')).toBe(false);
    await waitFor(() => client.state === 'open' && client.session?.id === 'sess_peer2');
    await waitFor(() => second.received.length === 1);
    expect(second.received[0]).toMatchObject({ type: 'session.update', session_update: { voice: 'sage' } });
    expect(events).toContain('close:1012:retry');
    expect(events).toContain('open:again');
    expect(client.stats.reconnects).toBe(1);
  });

  it('gives up with reconnect_exhausted when the server stays down', async () => {
    const { peer, client, failures } = await setup({
      reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 },
    });
    await client.connect();
    const attempts: number[] = [];
    client.on('reconnecting', (r) => attempts.push(r.attempt));
    await peer.close();
    await waitFor(() => client.state === 'closed', { timeoutMs: 5000 });
    expect(attempts).toEqual([1, 2, 3]);
    expect(failures.at(-1)).toMatchObject({ code: 'reconnect_exhausted', retryable: false });
  });

  it('reports unreadable server frames and keeps the connection', async () => {
    const { peer, client, failures } = await setup();
    await client.connect();
    const conn = await peer.connection(1);
    conn.ws.send('not json');
    conn.ws.send(JSON.stringify({ no: 'type' }));
    conn.ws.send(Buffer.from([1, 2, 3]));
    await waitFor(() => failures.length === 3);
    expect(failures.map((f) => f.code)).toEqual([
      'bad_server_message',
      'bad_server_message',
      'bad_server_message',
    ]);
    expect(client.state).toBe('open');
    expect(await client.ping()).toBeGreaterThan(0);
  });

  it('closes without reconnecting and can connect again', async () => {
    const { peer, client, events } = await setup();
    await client.connect();
    await client.close();
    expect(client.state).toBe('closed');
    expect(events.at(-1)).toBe('close:1000');
    await client.connect();
    expect(client.session?.id).toBe('sess_peer2');
    expect(peer.connections).toHaveLength(2);
  });

  it('sends a token as the Authorization header in Node, and in the browser form when asked', async () => {
    const { peer } = await setup();
    const header = new RealtimeVoiceClient({ url: peer.url(), WebSocket, token: 'tok-1' });
    const browser = new RealtimeVoiceClient({
      url: peer.url(),
      WebSocket,
      token: async () => 'tok-2',
      tokenTransport: 'subprotocol',
    });
    clients.push(header, browser);
    await header.connect();
    await browser.connect();
    const [a, b] = await Promise.all([peer.connection(1), peer.connection(2)]);
    expect(a.headers.authorization).toBe('Bearer tok-1');
    expect(b.headers.authorization).toBeUndefined();
    expect(String(b.headers['sec-websocket-protocol']).split(/,\s*/)).toEqual(['rtv.v1', 'rtv.bearer.tok-2']);
  });
});
