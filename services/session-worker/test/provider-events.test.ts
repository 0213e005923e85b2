import type { HistoryItem } from '@rtv/bus';
import type { SessionConfig } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildAudioAppend,
  buildFunctionCallOutput,
  buildHistoryItem,
  buildHistoryItems,
  buildResponseCreate,
  buildSessionUpdate,
  buildTextTurn,
  extractAudioDelta,
  isBase64Bytes,
  publicErrorFor,
  RESTORE_EVENT_ID,
  settingsNotApplied,
} from '../src/upstream/provider-events.js';
import { resolveShape } from '../src/upstream/resolve-provider.js';

const config: SessionConfig = {
  voice: 'verse',
  language: 'de',
  instructions: 'Be brief.',
  temperature: 0.7,
  max_response_output_tokens: 512,
  modalities: ['audio', 'text'],
};

describe('provider session.update', () => {
  it('GA: session.type, output_modalities, audio.input/output, max_output_tokens; no temperature', () => {
    const ev = JSON.parse(buildSessionUpdate(config, 'ga'));
    expect(ev.type).toBe('session.update');
    expect(ev.session.type).toBe('realtime');
    expect(ev.session.output_modalities).toEqual(['audio']);
    expect(ev.session.audio.output.voice).toBe('verse');
    expect(ev.session.audio.input.format).toEqual({ type: 'audio/pcm', rate: 24000 });
    expect(ev.session.audio.input.turn_detection.type).toBe('server_vad');
    expect(ev.session.max_output_tokens).toBe(512);
    expect(ev.session.instructions).toMatch(/^Be brief\.\n\n.*"de"/);
    expect(ev.session).not.toHaveProperty('temperature');
    expect(ev.session).not.toHaveProperty('voice');
  });

  it('beta: flat fields with temperature and pcm16 formats', () => {
    const ev = JSON.parse(
      buildSessionUpdate({ ...config, modalities: ['text'], turn_detection: null }, 'beta'),
    );
    expect(ev.session).toMatchObject({
      modalities: ['text'],
      voice: 'verse',
      input_audio_format: 'pcm16',
      output_audio_format: 'pcm16',
      turn_detection: null,
      temperature: 0.7,
      max_response_output_tokens: 512,
    });
    expect(ev.session).not.toHaveProperty('type');
  });

  it('text turns add a user item then ask for a response', () => {
    const [item, create] = buildTextTurn('Hi "there"', 'ga');
    expect(JSON.parse(item)).toEqual({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi "there"' }] },
    });
    expect(JSON.parse(create)).toEqual({ type: 'response.create' });
    expect(JSON.parse(buildTextTurn('x', 'beta')[1])).toEqual({ type: 'response.create', response: {} });
  });
});

describe('session controls, both shapes', () => {
  const controls: SessionConfig = {
    ...config,
    turn_detection: {
      type: 'server_vad',
      threshold: 0.7,
      prefix_padding_ms: 200,
      silence_duration_ms: 800,
      idle_timeout_ms: 6000,
      create_response: false,
      interrupt_response: false,
    },
    input_audio_noise_reduction: { type: 'far_field' },
    speed: 1.2,
    input_audio_transcription: { model: 'gpt-4o-transcribe', language: 'pt-BR', prompt: 'Porto, Lisboa' },
    tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }],
    tool_choice: { type: 'function', name: 'get_weather' },
  };
  const ga = (c: SessionConfig) => JSON.parse(buildSessionUpdate(c, 'ga', 'ev1')).session;
  const beta = (c: SessionConfig) => JSON.parse(buildSessionUpdate(c, 'beta', 'ev1')).session;

  it('GA: audio.input.{turn_detection, noise_reduction, transcription}, audio.output.speed, tools', () => {
    const s = ga(controls);
    expect(s.audio.input.turn_detection).toEqual({
      type: 'server_vad',
      threshold: 0.7,
      prefix_padding_ms: 200,
      silence_duration_ms: 800,
      idle_timeout_ms: 6000,
      create_response: false,
      interrupt_response: false,
    });
    expect(s.audio.input.noise_reduction).toEqual({ type: 'far_field' });
    expect(s.audio.input.transcription).toEqual({
      model: 'gpt-4o-transcribe',
      language: 'pt',
      prompt: 'Porto, Lisboa',
    });
    expect(s.audio.output.speed).toBe(1.2);
    expect(s.tools).toEqual(controls.tools);
    expect(s.tool_choice).toEqual({ type: 'function', name: 'get_weather' });
    expect(s).not.toHaveProperty('temperature');
    expect(s).not.toHaveProperty('turn_detection');
    expect(s).not.toHaveProperty('input_audio_transcription');
  });

  it('beta: flat turn_detection (no idle timeout), input_audio_noise_reduction, speed, transcription, temperature', () => {
    const s = beta(controls);
    expect(s.turn_detection).toEqual({
      type: 'server_vad',
      threshold: 0.7,
      prefix_padding_ms: 200,
      silence_duration_ms: 800,
      create_response: false,
      interrupt_response: false,
    });
    expect(s.input_audio_noise_reduction).toEqual({ type: 'far_field' });
    expect(s.speed).toBe(1.2);
    expect(s.input_audio_transcription).toEqual({
      model: 'gpt-4o-transcribe',
      language: 'pt',
      prompt: 'Porto, Lisboa',
    });
    expect(s.tools).toEqual(controls.tools);
    expect(s.tool_choice).toEqual({ type: 'function', name: 'get_weather' });
    expect(s.temperature).toBe(0.7);
    expect(s).not.toHaveProperty('audio');
  });

  it('semantic VAD and manual turns map to both shapes; VAD flags default to true', () => {
    const semantic: SessionConfig = {
      ...config,
      turn_detection: { type: 'semantic_vad', eagerness: 'high' },
    };
    const want = { type: 'semantic_vad', eagerness: 'high', create_response: true, interrupt_response: true };
    expect(ga(semantic).audio.input.turn_detection).toEqual(want);
    expect(beta(semantic).turn_detection).toEqual(want);
    const manual: SessionConfig = { ...config, turn_detection: null };
    expect(ga(manual).audio.input.turn_detection).toBeNull();
    expect(beta(manual).turn_detection).toBeNull();
    // Absent: server VAD with its defaults.
    expect(ga(config).audio.input.turn_detection).toEqual({
      type: 'server_vad',
      threshold: 0.5,
      prefix_padding_ms: 300,
      silence_duration_ms: 500,
      create_response: true,
      interrupt_response: true,
    });
  });

  it('transcription is on by default (a stored config without the field), off with null', () => {
    const on = { model: 'gpt-4o-mini-transcribe' };
    expect(ga(config).audio.input.transcription).toEqual(on);
    expect(beta(config).input_audio_transcription).toEqual(on);
    const off: SessionConfig = { ...config, input_audio_transcription: null };
    expect(ga(off).audio.input.transcription).toBeNull();
    expect(beta(off).input_audio_transcription).toBeNull();
    // Settings the client never set are left to the provider.
    expect(ga(config)).not.toHaveProperty('tools');
    expect(ga(config).audio.input).not.toHaveProperty('noise_reduction');
    expect(ga(config).audio.output).not.toHaveProperty('speed');
    expect(beta(config)).not.toHaveProperty('speed');
  });

  it('names the settings a shape cannot apply, only when the update set them', () => {
    expect(settingsNotApplied({ temperature: 0.9, voice: 'ash' }, 'ga')).toEqual(['temperature']);
    expect(settingsNotApplied({ temperature: 0.9 }, 'beta')).toEqual([]);
    expect(settingsNotApplied({ voice: 'ash' }, 'ga')).toEqual([]);
    const idle = { turn_detection: { type: 'server_vad' as const, idle_timeout_ms: 6000 } };
    expect(settingsNotApplied(idle, 'beta')).toEqual(['turn_detection.idle_timeout_ms']);
    expect(settingsNotApplied(idle, 'ga')).toEqual([]);
  });

  it('tags the update with the given event id, or a restore id', () => {
    expect(JSON.parse(buildSessionUpdate(config, 'ga', 'rtv_ev_7')).event_id).toBe('rtv_ev_7');
    expect(JSON.parse(buildSessionUpdate(config, 'beta')).event_id).toBe(RESTORE_EVENT_ID);
  });
});

describe('function calls and restored history', () => {
  it('builds the function result item and tagged response requests', () => {
    expect(JSON.parse(buildFunctionCallOutput('call_1', '{"t":21}', 'rtv_ev_3'))).toEqual({
      type: 'conversation.item.create',
      event_id: 'rtv_ev_3',
      item: { type: 'function_call_output', call_id: 'call_1', output: '{"t":21}' },
    });
    expect(JSON.parse(buildResponseCreate('ga', 'x'))).toEqual({ type: 'response.create', event_id: 'x' });
    expect(JSON.parse(buildResponseCreate('beta'))).toEqual({ type: 'response.create', response: {} });
    const [item, create] = buildTextTurn('Hi', 'ga', { item: 'a', response: 'b' });
    expect(JSON.parse(item).event_id).toBe('a');
    expect(JSON.parse(create)).toEqual({ type: 'response.create', event_id: 'b' });
  });

  it('replays text, calls and results as items of the shape, leaving out results without their call', () => {
    const history: HistoryItem[] = [
      { type: 'function_call_output', call_id: 'call_gone', output: 'orphan', at: 1 },
      { role: 'user', type: 'text', text: 'Weather in Porto?', at: 2 },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Porto"}', at: 3 },
      { type: 'function_call_output', call_id: 'call_1', output: '{"t":21}', at: 4 },
      { type: 'function_call_output', call_id: 'call_1', output: 'again', at: 5 },
      { role: 'assistant', type: 'text', text: 'It is 21 degrees.', at: 6 },
    ];
    const items = (shape: 'ga' | 'beta') => buildHistoryItems(history, shape).map((e) => JSON.parse(e).item);
    expect(items('ga')).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Porto?' }] },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Porto"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '{"t":21}' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 21 degrees.' }] },
    ]);
    expect(items('beta')[3]).toEqual({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'It is 21 degrees.' }],
    });
    expect(JSON.parse(buildHistoryItem(history[2]!, 'beta')).type).toBe('conversation.item.create');
  });
});

describe('audio pass-through', () => {
  it('wraps client base64 into input_audio_buffer.append without touching it', () => {
    const b64 = Buffer.from([1, 2, 3, 4]).toString('base64');
    const expected = { type: 'input_audio_buffer.append', audio: b64 };
    expect(JSON.parse(buildAudioAppend(b64).toString())).toEqual(expected);
    expect(JSON.parse(buildAudioAppend(Buffer.from(b64)).toString())).toEqual(expected);
  });

  it('cuts the base64 out of GA and beta audio deltas and ignores every other event', () => {
    const b64 = Buffer.alloc(960, 7).toString('base64');
    const ga = JSON.stringify({
      type: 'response.output_audio.delta',
      event_id: 'e',
      response_id: 'r',
      delta: b64,
    });
    const beta = JSON.stringify({ type: 'response.audio.delta', event_id: 'e', item_id: 'i', delta: b64 });
    const bytes = (event: string | object) =>
      Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
    expect(extractAudioDelta(bytes(ga))?.toString()).toBe(b64);
    expect(extractAudioDelta(bytes(beta))?.toString()).toBe(b64);
    expect(extractAudioDelta(bytes({ type: 'response.output_text.delta', delta: 'hi' }))).toBeUndefined();
    expect(
      extractAudioDelta(bytes({ type: 'response.output_audio_transcript.delta', delta: 'hi' })),
    ).toBeUndefined();
    // type far from the start: not the fast path, the caller parses.
    const late = JSON.stringify({
      padding: 'x'.repeat(200),
      type: 'response.output_audio.delta',
      delta: b64,
    });
    expect(extractAudioDelta(bytes(late))).toBeUndefined();
  });

  it('refuses a delta that is not clean base64, leaving it to the full parse (bus lines are newline-separated)', () => {
    const head = '{"type":"response.output_audio.delta","event_id":"e","delta":"';
    const raw = (delta: string) => Buffer.from(`${head}${delta}"}`, 'latin1');
    expect(extractAudioDelta(raw('AAAA'))?.toString()).toBe('AAAA');
    expect(extractAudioDelta(raw('AAA='))?.toString()).toBe('AAA=');
    expect(extractAudioDelta(raw('AA=='))?.toString()).toBe('AA==');
    expect(extractAudioDelta(raw(''))?.toString()).toBe('');
    for (const delta of [
      'AAAA\nM\tsess_x\t1\t1\t{}', // a raw newline (and tabs): would split the bus line
      'AAAA\\nAAA', // an escaped newline (\n in the JSON text)
      'AAAA\\"AAA', // an escaped quote: the cut ends at it, after the backslash
      'AAAA\tAAA', // a raw tab
      'AAAA\r', // a carriage return
      'AAAA AAA', // a space
      'AAA-AAA_', // base64url
      'AA=A', // padding inside
      'AAAAA', // not a multiple of 4
      'AAAA\u00ffAAA', // a byte outside ASCII
    ]) {
      expect(extractAudioDelta(raw(delta)), JSON.stringify(delta)).toBeUndefined();
    }
    expect(isBase64Bytes(Buffer.from(Buffer.alloc(4800, 9).toString('base64')))).toBe(true);
    expect(isBase64Bytes(Buffer.from('A==='))).toBe(false);
    expect(isBase64Bytes(Buffer.from('===='))).toBe(false);
  });
});

describe('errors and shape', () => {
  it('never passes provider messages through', () => {
    expect(publicErrorFor('conversation_already_has_active_response', 'invalid_request_error').code).toBe(
      'conversation_busy',
    );
    const e = publicErrorFor('weird_internal', 'some_new_error');
    expect(e).toEqual({ code: 'upstream_error', message: 'The speech provider reported an error' });
  });

  it('maps provider errors to the precise public codes', () => {
    const table: Array<[string | null, string, string | null, Record<string, unknown>]> = [
      ['rate_limit_exceeded', 'invalid_request_error', null, { code: 'upstream_rate_limited' }],
      [null, 'rate_limit_error', null, { code: 'upstream_rate_limited' }],
      ['server_error', 'server_error', null, { code: 'upstream_server_error' }],
      ['weird_internal', 'server_error', null, { code: 'upstream_server_error' }],
      [
        'unknown_parameter',
        'invalid_request_error',
        'session.bogus',
        {
          code: 'upstream_invalid_request',
          param: 'session.bogus',
          message: 'The speech provider does not accept the parameter session.bogus',
        },
      ],
      [
        'invalid_value',
        'invalid_request_error',
        'session.tools[0].parameters',
        {
          code: 'upstream_invalid_request',
          param: 'session.tools[0].parameters',
          message: 'The speech provider rejected the value of session.tools[0].parameters',
        },
      ],
      [
        'missing_required_parameter',
        'invalid_request_error',
        'session.type',
        { code: 'upstream_invalid_request', param: 'session.type' },
      ],
      ['response_cancel_not_active', 'invalid_request_error', null, { code: 'invalid_message' }],
      ['input_audio_buffer_commit_empty', 'invalid_request_error', null, { code: 'invalid_message' }],
      [null, 'something_else', null, { code: 'upstream_error' }],
    ];
    for (const [code, type, param, want] of table) {
      expect(publicErrorFor(code, type, param), `${code} ${type}`).toMatchObject(want);
    }
    // A param that is not a parameter path is not passed on.
    const odd = publicErrorFor('invalid_value', 'invalid_request_error', 'sk-live "quoted" <x>');
    expect(odd).toEqual({
      code: 'upstream_invalid_request',
      message: 'The speech provider rejected a request for this session as invalid',
    });
  });

  it('the shape is beta only when asked for (auto is a legacy value meaning ga)', () => {
    expect(resolveShape('auto')).toBe('ga');
    expect(resolveShape('ga')).toBe('ga');
    expect(resolveShape('beta')).toBe('beta');
  });
});
