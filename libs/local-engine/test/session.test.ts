import { describe, expect, it } from 'vitest';
import { engine, session } from './helpers.js';

const BETA = { headers: { 'OpenAI-Beta': 'realtime=v1' } };

describe('session.update (GA)', () => {
  it('applies a partial update and replies with the full effective config', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      event_id: 'evt_1',
      session: {
        type: 'realtime',
        output_modalities: ['text'],
        instructions: 'Be brief.',
        audio: {
          input: { turn_detection: { type: 'server_vad', threshold: 0.7 } },
          output: { voice: 'marin' },
        },
        max_output_tokens: 512,
      },
    });
    const updated = await client.next();
    expect(updated.type).toBe('session.updated');
    expect(updated.session).toMatchObject({
      type: 'realtime',
      output_modalities: ['text'],
      instructions: 'Be brief.',
      max_output_tokens: 512,
      tool_choice: 'auto',
      audio: {
        // A new turn_detection object replaces the old one whole, with defaults for what it leaves out.
        input: {
          turn_detection: {
            type: 'server_vad',
            threshold: 0.7,
            prefix_padding_ms: 300,
            silence_duration_ms: 200,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { voice: 'marin', speed: 1, format: { type: 'audio/pcm', rate: 24000 } },
      },
    });
  });

  it('requires session.type', async () => {
    const client = await session(await engine());
    client.send({ type: 'session.update', session: { instructions: 'x' } });
    expect((await client.next()).error).toMatchObject({
      code: 'missing_required_parameter',
      param: 'session.type',
    });
  });

  it('rejects unknown fields with a dotted param, including beta-era flat fields', async () => {
    const client = await session(await engine());
    client.send({ type: 'session.update', session: { type: 'realtime', bogus_field: 1 } });
    expect((await client.next()).error).toEqual({
      type: 'invalid_request_error',
      code: 'unknown_parameter',
      message: "Unknown parameter: 'session.bogus_field'.",
      param: 'session.bogus_field',
      event_id: null,
    });
    client.send({ type: 'session.update', session: { type: 'realtime', audio: { output: { pitch: 2 } } } });
    expect((await client.next()).error).toMatchObject({ param: 'session.audio.output.pitch' });
    client.send({ type: 'session.update', session: { type: 'realtime', modalities: ['text'] } });
    expect((await client.next()).error).toMatchObject({
      code: 'unknown_parameter',
      param: 'session.modalities',
    });
  });

  it('rejects bad values with the provider codes', async () => {
    const client = await session(await engine());
    const cases: [Record<string, unknown>, string, string][] = [
      [
        { audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } },
        'integer_below_min_value',
        'session.audio.input.format.rate',
      ],
      [{ audio: { output: { speed: 2 } } }, 'decimal_above_max_value', 'session.audio.output.speed'],
      [{ audio: { output: { voice: 'robot' } } }, 'invalid_value', 'session.audio.output.voice'],
      [{ output_modalities: ['audio', 'text'] }, 'invalid_value', 'session.output_modalities'],
      [{ instructions: 42 }, 'invalid_type', 'session.instructions'],
      [{ max_output_tokens: 0 }, 'integer_below_min_value', 'session.max_output_tokens'],
      [
        { tools: [{ type: 'function', name: 'f', description: 'x'.repeat(1025) }] },
        'string_above_max_length',
        'session.tools[0].description',
      ],
    ];
    for (const [patch, code, param] of cases) {
      client.send({ type: 'session.update', session: { type: 'realtime', ...patch } });
      expect((await client.next()).error, param).toMatchObject({ code, param });
    }
  });

  it('discards a rejected update whole', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', instructions: 'Changed.', audio: { output: { speed: 9 } } },
    });
    expect((await client.next()).type).toBe('error');
    client.send({ type: 'session.update', session: { type: 'realtime' } });
    const s = (await client.next('session.updated')).session as Record<string, unknown>;
    expect(s.instructions).not.toBe('Changed.');
  });

  it('refuses formats the engine cannot produce rather than ignoring them', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { output: { format: { type: 'audio/pcmu' } } } },
    });
    expect((await client.next()).error).toMatchObject({
      code: 'invalid_value',
      param: 'session.audio.output.format.type',
    });
  });

  it('turns VAD off with turn_detection: null', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: null } } },
    });
    expect((await client.next('session.updated')).session).toMatchObject({
      audio: { input: { turn_detection: null } },
    });
  });
});

describe('session.update (beta)', () => {
  it('accepts flat fields incl. temperature, max_response_output_tokens and modalities', async () => {
    const client = await session(await engine(), BETA);
    client.send({
      type: 'session.update',
      session: {
        modalities: ['text'],
        voice: 'verse',
        temperature: 0.9,
        max_response_output_tokens: 300,
        turn_detection: null,
        input_audio_format: 'pcm16',
      },
    });
    const s = (await client.next('session.updated')).session as Record<string, unknown>;
    expect(s).toMatchObject({
      modalities: ['text'],
      voice: 'verse',
      temperature: 0.9,
      max_response_output_tokens: 300,
      turn_detection: null,
      input_audio_format: 'pcm16',
    });
    expect(s).not.toHaveProperty('output_modalities');
  });

  it('validates beta ranges and GA-only fields', async () => {
    const client = await session(await engine(), BETA);
    client.send({ type: 'session.update', session: { temperature: 2 } });
    expect((await client.next()).error).toMatchObject({
      code: 'decimal_above_max_value',
      param: 'session.temperature',
    });
    client.send({ type: 'session.update', session: { type: 'realtime' } });
    expect((await client.next()).error).toMatchObject({ code: 'unknown_parameter', param: 'session.type' });
    client.send({ type: 'session.update', session: { modalities: ['audio'] } });
    expect((await client.next()).error).toMatchObject({ code: 'invalid_value', param: 'session.modalities' });
  });
});
