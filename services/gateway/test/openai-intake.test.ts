// The client-frame path of the OpenAI-compatible route: OpenAiFrameIntake in front of a real SessionRouter on
// an in-memory bus, with a recording ClientChannel (our own interface to the connection layer), and the two
// client dialects the gateway speaks in.
import {
  CloseCode,
  type CompatPolicy,
  DEFAULT_SESSION_CONFIG,
  encodeBindLine,
  type FrameLimits,
  INSTRUCTIONS_SEPARATOR,
  NoticeCode,
  PROTOCOL_VERSION,
  parseCompatPolicy,
} from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import { OpenAiFrameIntake } from '../src/openai/openai-intake.js';
import { openAiDialect, SEED_DIALECT } from '../src/routing/client-dialect.js';
import type { ClientSession } from '../src/routing/client-session.js';
import type { ClientChannel } from '../src/ws/frame-intake.js';
import { batch, counterValue, newRouting, newSession, socketOf } from './helpers.js';

const SID = 'sess_oooooooooooooooooooo1';
const LIMITS: FrameLimits = { maxFrameBytes: 4096, maxAudioBytes: 2048 };
const PREFIX = 'Stay polite.';

type Json = Record<string, unknown>;

/** The connection layer as the intake sees it, recording every call. */
class RecordingChannel implements ClientChannel {
  readonly admitted: Array<{ bytes: number; isAudio: boolean }> = [];
  readonly sent: string[] = [];
  readonly closed: Array<{ code: number; reason: string }> = [];
  /** What `admitFrame` answers (false: the rate limiter refused the frame and told the client). */
  admit = true;

  admitFrame(_session: ClientSession, bytes: number, isAudio: boolean): boolean {
    this.admitted.push({ bytes, isAudio });
    return this.admit;
  }

  send(_session: ClientSession, text: string): void {
    this.sent.push(text);
  }

  close(session: ClientSession, code: number, reason: string): void {
    this.closed.push({ code, reason });
    session.ws?.end(code, reason);
  }

  /** Every sent message, parsed. */
  messages(): Json[] {
    return this.sent.map((text) => JSON.parse(text) as Json);
  }

  /** The `error` object of every error sent. */
  errors(): Json[] {
    return this.messages()
      .filter((m) => m.type === 'error')
      .map((m) => m.error as Json);
  }
}

function policy(): CompatPolicy {
  return parseCompatPolicy({
    classes: {
      default: {
        forbid: ['tracing'],
        pin: { 'audio.output.voice': 'marin' },
        tools: { allow: ['get_weather'] },
        instructionsPrefix: PREFIX,
      },
      // A class with no rules: what its users send passes as it is.
      open: { forbid: [], pin: {}, tools: null, instructionsPrefix: null },
    },
  });
}

/** An OpenAI-compatible session, bound to worker wk-1 unless told otherwise, and the intake in front of it. */
function setup(opts: { bound?: boolean; userClass?: string } = {}) {
  const { keys, writer, registry, metrics, router } = newRouting();
  const session = newSession(SID, { limits: { pendingMaxFrames: 2, replayMaxBytes: 64 * 1024 } });
  session.dialect = openAiDialect(false);
  session.config = {
    ...DEFAULT_SESSION_CONFIG,
    openai: { model: 'gpt-realtime', session: {}, userClass: opts.userClass ?? 'default', rtvEvents: false },
  };
  registry.add(session);
  if (opts.bound !== false) router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
  const client = new RecordingChannel();
  const intake = new OpenAiFrameIntake({ router, client, metrics, limits: LIMITS, policy: policy() });
  const text = (s: string) => intake.onMessage(session, toArrayBuffer(Buffer.from(s)), false);
  const binary = (bytes: Uint8Array) => intake.onMessage(session, toArrayBuffer(bytes), true);
  /** The client frames (F lines) forwarded to the owner, as kind and payload text. */
  const forwarded = () =>
    writer
      .lines(keys.workerIn('wk-1'))
      .flatMap((l) => (l.op === 'F' ? [{ seq: l.seq, kind: l.kind, payload: l.payload.toString() }] : []));
  /** The JSON payloads forwarded, parsed. */
  const forwardedEvents = () => forwarded().map((f) => JSON.parse(f.payload) as Json);
  return { session, client, intake, router, metrics, text, binary, forwarded, forwardedEvents };
}

/** uWS hands the handler an ArrayBuffer of exactly the frame. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

const append = (audio: string) => `{"type":"input_audio_buffer.append","audio":"${audio}"}`;

describe('OpenAiFrameIntake: audio', () => {
  it('the canonical append takes the byte path: an audio frame carrying exactly the base64 sent', async () => {
    const { client, metrics, text, forwarded } = setup();
    const audio = 'AAECAwQFBgcICQoL+/8AAQ==';
    text(append(audio));
    expect(forwarded()).toEqual([{ seq: 1, kind: 'a', payload: audio }]);
    expect(client.admitted).toEqual([{ bytes: append(audio).length, isAudio: true }]);
    expect(client.sent).toEqual([]);
    expect(await counterValue(metrics.framesIn, { type: 'input_audio_buffer.append' })).toBe(1);
    expect(await counterValue(metrics.bytesIn, { type: 'input_audio_buffer.append' })).toBe(
      append(audio).length,
    );
  });

  it('an append with an event_id is forwarded whole as JSON, so the provider can name it in an error', () => {
    const { client, text, forwarded, forwardedEvents } = setup();
    text('{"type":"input_audio_buffer.append","event_id":"evt_a1","audio":"AAECAw=="}');
    expect(forwarded().map((f) => f.kind)).toEqual(['j']);
    expect(forwardedEvents()).toEqual([
      { type: 'input_audio_buffer.append', event_id: 'evt_a1', audio: 'AAECAw==' },
    ]);
    expect(client.admitted[0]!.isAudio).toBe(false);
  });

  it('audio that is not whole PCM16 samples is refused with the provider’s error; nothing is forwarded', () => {
    const { session, client, text, forwarded } = setup();
    text('{"type":"input_audio_buffer.append","event_id":"evt_odd","audio":"AAAA"}');
    expect(client.errors()).toEqual([
      expect.objectContaining({ code: 'invalid_value', param: 'audio', event_id: 'evt_odd' }),
    ]);
    expect(forwarded()).toEqual([]);
    expect(session.seq).toBe(0);
    expect(client.closed).toEqual([]);
  });
});

describe('OpenAiFrameIntake: events', () => {
  it('any other valid event is forwarded as compact JSON, numbered after the audio', async () => {
    const { metrics, text, forwarded } = setup();
    text(append('AAECAw=='));
    text('{ "type": "input_audio_buffer.commit", "event_id": "evt_c1" }');
    text(
      '{"type":"conversation.item.create","item":{"id":"item_1","type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]}}',
    );
    expect(forwarded()).toEqual([
      { seq: 1, kind: 'a', payload: 'AAECAw==' },
      { seq: 2, kind: 'j', payload: '{"type":"input_audio_buffer.commit","event_id":"evt_c1"}' },
      {
        seq: 3,
        kind: 'j',
        payload:
          '{"type":"conversation.item.create","item":{"id":"item_1","type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]}}',
      },
    ]);
    expect(await counterValue(metrics.framesIn, { type: 'input_audio_buffer.commit' })).toBe(1);
  });

  it('an event the protocol does not know gets the provider’s error with its event_id; the socket stays', async () => {
    const { session, client, metrics, text, forwarded } = setup();
    text('{"type":"session.delete","event_id":"evt_x"}');
    text('{"type":"response.create","event_id":"evt_y","extra":1}');
    text('{"type":"response.create",');
    expect(client.errors()).toEqual([
      expect.objectContaining({
        type: 'invalid_request_error',
        code: 'invalid_value',
        param: 'type',
        event_id: 'evt_x',
      }),
      expect.objectContaining({ code: 'unknown_parameter', param: 'extra', event_id: 'evt_y' }),
      expect.objectContaining({ code: 'invalid_json', event_id: null }),
    ]);
    // Each error is the provider's `error` event: a fresh server event id outside.
    for (const message of client.messages()) expect(message.event_id).toMatch(/^event_[A-Za-z0-9]{21}$/);
    expect(forwarded()).toEqual([]);
    expect(client.closed).toEqual([]);
    expect(socketOf(session).ended).toBeUndefined();
    expect(await counterValue(metrics.framesIn, { type: 'invalid' })).toBe(3);
  });

  it('a frame the rate limiter refuses is neither answered here nor forwarded', () => {
    const { client, text, forwarded } = setup();
    client.admit = false;
    text(append('AAECAw=='));
    text('{"type":"response.create"}');
    expect(client.admitted.map((a) => a.isAudio)).toEqual([true, false]);
    expect(forwarded()).toEqual([]);
    expect(client.sent).toEqual([]);
  });

  it('frames of a closed session are ignored', () => {
    const { session, client, text, forwarded } = setup();
    session.closed = true;
    text(append('AAECAw=='));
    text('{"type":"response.create"}');
    expect(client.admitted).toEqual([]);
    expect(forwarded()).toEqual([]);
  });
});

describe('OpenAiFrameIntake: the deployment’s policy', () => {
  it('a session.update with a forbidden field is refused with setting_forbidden, its param and event_id; nothing is forwarded', async () => {
    const { session, client, metrics, text, forwarded } = setup();
    text(
      '{"type":"session.update","event_id":"evt_s1","session":{"type":"realtime","tracing":"auto","instructions":"Hi"}}',
    );
    expect(client.errors()).toEqual([
      {
        type: 'invalid_request_error',
        code: 'setting_forbidden',
        message: expect.any(String),
        param: 'session.tracing',
        event_id: 'evt_s1',
      },
    ]);
    expect(forwarded()).toEqual([]);
    expect(session.seq).toBe(0);
    expect(client.closed).toEqual([]);
    expect(await counterValue(metrics.limitRejections, { kind: 'policy' })).toBe(1);
  });

  it('a tool outside the allowlist is refused, naming the tool', () => {
    const { client, text, forwarded } = setup();
    text(
      '{"type":"session.update","session":{"type":"realtime","tools":[{"type":"function","name":"get_weather"},{"type":"function","name":"wire_money"}]}}',
    );
    expect(client.errors()).toEqual([
      expect.objectContaining({ code: 'setting_forbidden', param: 'session.tools[1].name', event_id: null }),
    ]);
    expect(forwarded()).toEqual([]);
  });

  it('an allowed session.update is forwarded with the pins it touches set and its instructions prefixed', () => {
    const { client, text, forwardedEvents } = setup();
    text(
      '{"type":"session.update","event_id":"evt_s2","session":{"type":"realtime","instructions":"Speak French.","audio":{"output":{"voice":"alloy","speed":1.1}}}}',
    );
    expect(client.sent).toEqual([]);
    expect(forwardedEvents()).toEqual([
      {
        type: 'session.update',
        event_id: 'evt_s2',
        session: {
          type: 'realtime',
          instructions: `${PREFIX}${INSTRUCTIONS_SEPARATOR}Speak French.`,
          audio: { output: { voice: 'marin', speed: 1.1 } },
        },
      },
    ]);
  });

  it('response.create: instructions prefixed, no overrides forwarded as they were, a forbidden override refused', () => {
    const { client, text, forwarded, forwardedEvents } = setup();
    text('{"type":"response.create","event_id":"evt_r1","response":{"instructions":"Be short."}}');
    text('{"type":"response.create"}');
    text('{"type":"response.create","event_id":"evt_r3","response":{"tracing":"auto"}}');
    expect(forwardedEvents()).toEqual([
      {
        type: 'response.create',
        event_id: 'evt_r1',
        response: { instructions: `${PREFIX}${INSTRUCTIONS_SEPARATOR}Be short.` },
      },
      { type: 'response.create' },
    ]);
    expect(forwarded()[1]!.payload).toBe('{"type":"response.create"}');
    expect(client.errors()).toEqual([
      expect.objectContaining({ code: 'setting_forbidden', param: 'response.tracing', event_id: 'evt_r3' }),
    ]);
  });

  it('a session.model other than the connected one is replaced by it, not refused (SDKs send their default)', () => {
    const { client, text, forwardedEvents } = setup({ userClass: 'open' });
    text('{"type":"session.update","session":{"type":"realtime","model":"gpt-realtime-2.1"}}');
    text('{"type":"session.update","session":{"type":"realtime","model":"gpt-realtime"}}');
    expect(client.sent).toEqual([]);
    expect(forwardedEvents().map((e) => (e.session as Json).model)).toEqual(['gpt-realtime', 'gpt-realtime']);
  });

  it('the policy of the session’s own class applies', () => {
    const { client, text, forwardedEvents } = setup({ userClass: 'open' });
    text('{"type":"session.update","session":{"type":"realtime","tracing":"auto","instructions":"As is."}}');
    expect(client.sent).toEqual([]);
    expect(forwardedEvents()).toEqual([
      { type: 'session.update', session: { type: 'realtime', tracing: 'auto', instructions: 'As is.' } },
    ]);
  });
});

describe('OpenAiFrameIntake: frames that do not fit', () => {
  it('a binary frame is answered with an error (the protocol has none); nothing is forwarded, the socket stays', async () => {
    const { session, client, metrics, binary, forwarded } = setup();
    binary(Uint8Array.from([0, 1, 2, 3]));
    expect(client.admitted).toEqual([{ bytes: 4, isAudio: true }]);
    expect(client.errors()).toEqual([
      expect.objectContaining({ type: 'invalid_request_error', code: 'invalid_value', param: null }),
    ]);
    expect(forwarded()).toEqual([]);
    expect(session.seq).toBe(0);
    expect(client.closed).toEqual([]);
    expect(await counterValue(metrics.framesIn, { type: 'invalid' })).toBe(1);
  });

  it('an oversize frame gets message_too_large and close 1009, without spending the rate', async () => {
    const { client, metrics, text, forwarded } = setup();
    text(
      `{"type":"response.create","event_id":"evt_big","response":{"instructions":"${'x'.repeat(LIMITS.maxFrameBytes)}"}}`,
    );
    expect(client.errors()).toEqual([expect.objectContaining({ code: 'message_too_large' })]);
    expect(client.closed).toEqual([{ code: CloseCode.MessageTooBig, reason: 'message too large' }]);
    expect(CloseCode.MessageTooBig).toBe(1009);
    expect(client.admitted).toEqual([]);
    expect(forwarded()).toEqual([]);
    expect(await counterValue(metrics.limitRejections, { kind: 'frame_size' })).toBe(1);
  });

  it('an append whose audio is over the audio limit is refused like any invalid event, not closed', () => {
    const { client, text, forwarded } = setup();
    // 2052 bytes of audio, within the frame limit.
    text(append('A'.repeat(2736)));
    expect(client.errors()).toEqual([expect.objectContaining({ code: 'invalid_value', param: 'audio' })]);
    expect(client.closed).toEqual([]);
    expect(forwarded()).toEqual([]);
  });

  it('before a worker binds, frames are held; past the pending budget the refusal is in the provider’s shape', () => {
    const { router, client, text, forwarded } = setup({ bound: false });
    // pendingMaxFrames is 2.
    text(append('AAECAw=='));
    text(append('BAUGBw=='));
    text(append('CAkKCw=='));
    expect(forwarded()).toEqual([]);
    expect(client.messages()).toEqual([
      {
        type: 'error',
        event_id: expect.stringMatching(/^event_/),
        error: {
          type: 'invalid_request_error',
          code: 'rate_limited',
          message: expect.any(String),
          param: null,
          event_id: null,
        },
      },
    ]);
    router.onBatch(batch(encodeBindLine(SID, 'wk-1', 1)));
    expect(forwarded()).toEqual([
      { seq: 1, kind: 'a', payload: 'AAECAw==' },
      { seq: 2, kind: 'a', payload: 'BAUGBw==' },
    ]);
  });
});

describe('client dialects', () => {
  const opened = { sid: SID, userId: 'user_1', resumeToken: 'tok_1', isNew: true, model: 'gpt-realtime' };

  it('errors: the seed shape, or the provider’s `error` event with our stable code', () => {
    expect(JSON.parse(SEED_DIALECT.error('rate_limited', 'Slow down', 'audio', 'evt_1'))).toEqual({
      type: 'error',
      error: { code: 'rate_limited', message: 'Slow down', field: 'audio', event_id: 'evt_1' },
    });
    // A request parameter outside any message (a query parameter) is the seed's `param`.
    expect(
      JSON.parse(SEED_DIALECT.error('invalid_message', 'No', undefined, undefined, 'resume_token')).error,
    ).toEqual({ code: 'invalid_message', message: 'No', param: 'resume_token' });
    expect(JSON.parse(openAiDialect(false).error('rate_limited', 'Slow down', 'audio', 'evt_1'))).toEqual({
      type: 'error',
      event_id: expect.stringMatching(/^event_[A-Za-z0-9]{21}$/),
      error: {
        type: 'invalid_request_error',
        code: 'rate_limited',
        message: 'Slow down',
        param: 'audio',
        event_id: 'evt_1',
      },
    });
    // A 5xx code is the provider's server_error; the message defaults to the registry's.
    expect(JSON.parse(openAiDialect(true).error('internal_error')).error).toMatchObject({
      type: 'server_error',
      code: 'internal_error',
      param: null,
      event_id: null,
    });
  });

  it('notices: the seed always, the OpenAI route only with rtv events', () => {
    expect(JSON.parse(SEED_DIALECT.notice('session_recovered')!)).toMatchObject({
      type: 'session.notice',
      notice: { code: 'session_recovered', message: NoticeCode.session_recovered.message },
    });
    expect(openAiDialect(false).notice('session_recovered')).toBeUndefined();
    expect(JSON.parse(openAiDialect(true).notice('session_resumed', 'back')!)).toEqual({
      type: 'rtv.notice',
      code: 'session_resumed',
      message: 'back',
    });
  });

  it('the first message: the seed’s session.created; nothing for a stock SDK; rtv.session with rtv events', () => {
    const seed = JSON.parse(SEED_DIALECT.opened(opened)!) as Json;
    expect(seed).toMatchObject({
      type: 'session.created',
      session: { id: SID, user_id: 'user_1', resume_token: 'tok_1', protocol_version: PROTOCOL_VERSION },
    });
    expect((seed.session as Json).voice).toBe(DEFAULT_SESSION_CONFIG.voice);
    const resumed = JSON.parse(SEED_DIALECT.opened({ ...opened, isNew: false })!) as Json;
    expect(resumed.session).not.toHaveProperty('voice');
    expect(openAiDialect(false).opened(opened)).toBeUndefined();
    expect(JSON.parse(openAiDialect(true).opened(opened)!)).toEqual({
      type: 'rtv.session',
      session_id: SID,
      user_id: 'user_1',
      resume_token: 'tok_1',
      model: 'gpt-realtime',
    });
  });
});
