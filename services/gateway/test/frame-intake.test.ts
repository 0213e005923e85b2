import { CloseCode, decodeLine, encodeBindLine } from '@rtv/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientSession } from '../src/routing/client-session.js';
import { MAX_JSON_DEPTH } from '../src/ws/frame-intake.js';
import { batch, counterValue, createHarness, type Harness, SESSION_LIMITS, socketOf } from './helpers.js';

const SID = 'sess_iiiiiiiiiiiiiiiiiiiii';
const LIMITS = { maxFrameBytes: 4096, maxAudioBytes: 2048 };

let harness: Harness | undefined;

afterEach(() => {
  harness?.lifecycle.dispose();
  harness = undefined;
});

/** An open session bound to worker wk-1, so forwarded frames land on that worker's stream. */
function setup(opts: { bound?: boolean; replayMaxBytes?: number } = {}) {
  const sessionLimits = {
    ...SESSION_LIMITS,
    replayMaxBytes: opts.replayMaxBytes ?? SESSION_LIMITS.replayMaxBytes,
  };
  const h = createHarness({ frameLimits: LIMITS, sessionLimits });
  harness = h;
  const session = h.connect(SID);
  h.lifecycle.openNew(session, 'anonymous');
  if (opts.bound !== false) h.router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
  const socket = socketOf(session);
  socket.sent.length = 0; // session.created
  const text = (s: string) => h.intake.onMessage(session, toArrayBuffer(Buffer.from(s)), false);
  const binary = (bytes: Uint8Array) => h.intake.onMessage(session, toArrayBuffer(bytes), true);
  const toWorker = () => h.writer.lines(h.keys.workerIn('wk-1'));
  /** The client frames (F lines) forwarded to the owner. */
  const forwarded = () => toWorker().filter((l) => l.op === 'F');
  return { h, session, socket, text, binary, forwarded, toWorker };
}

/** uWS hands the handler an ArrayBuffer of exactly the frame. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

const audioFrame = (audio: string, extra = '') =>
  `{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"${audio}"}${extra}}`;

function framePayloads(lines: ReturnType<ReturnType<typeof setup>['forwarded']>) {
  return lines.map((l) => (l.op === 'F' ? { seq: l.seq, kind: l.kind, payload: l.payload.toString() } : l));
}

function assertOpen(session: ClientSession): void {
  expect(socketOf(session).ended).toBeUndefined();
  expect(session.closed).toBe(false);
}

describe('ClientFrameIntake: audio', () => {
  it('a canonical audio frame becomes an F line of kind a carrying the base64 as sent', async () => {
    const { h, text, forwarded, socket } = setup();
    text(audioFrame('AAECAwQF'));
    expect(framePayloads(forwarded())).toEqual([{ seq: 1, kind: 'a', payload: 'AAECAwQF' }]);
    expect(socket.sent).toEqual([]);
    expect(await counterValue(h.metrics.framesIn, { type: 'conversation.item.input' })).toBe(1);
  });

  it('an audio message in another form (event_id) takes the full parser and is forwarded the same way', () => {
    const { text, forwarded } = setup();
    text(audioFrame('AAECAwQF', ',"event_id":"e1"'));
    expect(framePayloads(forwarded())).toEqual([{ seq: 1, kind: 'a', payload: 'AAECAwQF' }]);
  });

  it('a binary frame of PCM16 is forwarded as base64 audio', async () => {
    const { h, binary, forwarded } = setup();
    binary(Uint8Array.from([0, 1, 2, 3]));
    expect(framePayloads(forwarded())).toEqual([{ seq: 1, kind: 'a', payload: 'AAECAw==' }]);
    expect(await counterValue(h.metrics.framesIn, { type: 'input_audio_binary' })).toBe(1);
  });

  it('a binary frame with an odd byte count is refused with invalid_audio; the connection stays', async () => {
    const { h, session, socket, binary, forwarded } = setup();
    binary(Uint8Array.from([0, 1, 2]));
    expect(socket.errorCodes()).toEqual(['invalid_audio']);
    expect(forwarded()).toEqual([]);
    expect(session.seq).toBe(0);
    assertOpen(session);
    expect(await counterValue(h.metrics.framesIn, { type: 'invalid' })).toBe(1);
  });

  it('a binary frame over the audio limit gets message_too_large and close 1009', async () => {
    const { h, socket, binary, forwarded } = setup();
    binary(new Uint8Array(LIMITS.maxAudioBytes + 2));
    expect(socket.errorCodes()).toEqual(['message_too_large']);
    expect(socket.ended?.code).toBe(CloseCode.MessageTooBig);
    expect(forwarded()).toEqual([]);
    expect(await counterValue(h.metrics.limitRejections, { kind: 'audio_size' })).toBe(1);
  });
});

describe('ClientFrameIntake: messages', () => {
  it('a ping is answered locally with a pong echoing its timestamp; nothing is forwarded', async () => {
    const { h, session, socket, text, forwarded } = setup();
    text('{"type":"ping","ping":{"timestamp":1234.5}}');
    expect(socket.messages()).toEqual([{ type: 'pong', timestamp: 1234.5 }]);
    expect(forwarded()).toEqual([]);
    expect(session.seq).toBe(0);
    expect(await counterValue(h.metrics.framesIn, { type: 'ping' })).toBe(1);
    expect(await counterValue(h.metrics.framesOut, { type: 'pong' })).toBe(1);
  });

  it('any other valid message is forwarded as compact JSON (kind j)', () => {
    const { text, forwarded } = setup();
    text('{ "type": "response.create" }');
    expect(framePayloads(forwarded())).toEqual([
      { seq: 1, kind: 'j', payload: '{"type":"response.create"}' },
    ]);
  });

  it('invalid JSON is answered with invalid_json; the connection stays open', () => {
    const { session, socket, text, forwarded } = setup();
    text('{"type":"ping",');
    expect(socket.errorCodes()).toEqual(['invalid_json']);
    expect(forwarded()).toEqual([]);
    assertOpen(session);
    text('{"type":"ping","ping":{"timestamp":1}}');
    expect(socket.messages().at(-1)).toEqual({ type: 'pong', timestamp: 1 });
  });

  it(`a message nested deeper than ${MAX_JSON_DEPTH} levels is refused before parsing`, () => {
    const { session, socket, text, forwarded } = setup();
    text(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`);
    expect(socket.errorCodes()).toEqual(['invalid_message']);
    expect(forwarded()).toEqual([]);
    assertOpen(session);
  });

  it('an oversize frame gets message_too_large and close 1009, which ends the session', async () => {
    const { h, socket, text, toWorker } = setup();
    text(audioFrame('A'.repeat(LIMITS.maxFrameBytes)));
    expect(socket.errorCodes()).toEqual(['message_too_large']);
    expect(socket.ended?.code).toBe(CloseCode.MessageTooBig);
    expect(toWorker()).toEqual([{ op: 'E', sid: SID, reason: 'client_closed' }]);
    expect(await counterValue(h.metrics.limitRejections, { kind: 'frame_size' })).toBe(1);
  });

  it('frames of a closed session are ignored', () => {
    const { session, socket, text, forwarded } = setup();
    session.ws?.end(CloseCode.GoingAway, 'bye');
    text('{"type":"ping","ping":{"timestamp":1}}');
    text(audioFrame('AAECAwQF'));
    expect(socket.sent).toEqual([]);
    expect(forwarded()).toEqual([]);
  });
});

describe('ClientFrameIntake: before the bind', () => {
  it('frames are held until a worker binds; past the pending budget the client hears rate_limited', async () => {
    const { h, session, socket, text, forwarded } = setup({ bound: false });
    // SESSION_LIMITS.pendingMaxFrames is 4.
    for (let i = 0; i < 5; i++) text(audioFrame('AAECAwQF'));
    expect(forwarded()).toEqual([]);
    expect(socket.errorCodes()).toEqual(['rate_limited']);
    expect(await counterValue(h.metrics.limitRejections, { kind: 'pending_frames' })).toBe(1);
    h.router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    expect(forwarded().map((l) => (l.op === 'F' ? l.seq : undefined))).toEqual([1, 2, 3, 4]);
    assertOpen(session);
  });
});

describe('ClientFrameIntake: replay buffer full', () => {
  it('refuses the frame that would push out an unacknowledged one: replay_buffer_full, close 1013, ring kept', async () => {
    // Room for two of these frames' lines, not three; the owner acknowledges nothing (as in a Redis outage).
    const { h, session, socket, text, forwarded } = setup({ replayMaxBytes: 300 });
    for (const audio of ['A', 'B', 'C']) text(audioFrame(audio.repeat(96)));
    expect(framePayloads(forwarded()).map((f) => ('seq' in f ? f.seq : f))).toEqual([1, 2]);
    expect(socket.errorCodes()).toEqual(['replay_buffer_full']);
    expect(socket.messages()[0]).toMatchObject({
      type: 'error',
      error: { code: 'replay_buffer_full', message: expect.stringContaining('resume') },
    });
    expect(socket.ended?.code).toBe(CloseCode.TryAgainLater);
    // Not numbered; the two frames taken before are still there for a new owner.
    expect(session.seq).toBe(2);
    const kept = session.unacked().map((l) => decodeLine(l));
    expect(
      kept.map((l) => (typeof l !== 'string' && l.op === 'F' ? [l.seq, l.payload.toString()] : l)),
    ).toEqual([
      [1, 'A'.repeat(96)],
      [2, 'B'.repeat(96)],
    ]);
    expect(await counterValue(h.metrics.limitRejections, { kind: 'replay_buffer' })).toBe(1);
    expect(await counterValue(h.metrics.replayOverflow)).toBe(1);
    // 1013 is resumable: outside a Redis outage the session is detached as for any dropped socket.
    expect(h.writer.lines(h.keys.workerIn('wk-1')).at(-1)).toMatchObject({ op: 'D', sid: SID });
  });
});
