import { describe, expect, it } from 'vitest';
import { appendAudio, engine, session, silence, speechBurst } from './helpers.js';

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

  it('ignores a different model in session.update: the URL chose it (openai-agents-js sends its own)', async () => {
    const e = await engine();
    for (const [url, model] of [
      [e.url, 'gpt-realtime'],
      [e.azureUrl, 'my-deployment'],
    ] as const) {
      const client = await session({ ...e, url }, { model });
      client.send({
        type: 'session.update',
        session: { type: 'realtime', model: 'gpt-realtime-2.1', instructions: 'Kept.' },
      });
      expect((await client.next()).session).toMatchObject({ model, instructions: 'Kept.' });
      client.send({ type: 'session.update', session: { type: 'realtime', model: 42 } });
      expect((await client.next()).error).toMatchObject({ code: 'invalid_type', param: 'session.model' });
    }
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

describe('session controls (GA validation)', () => {
  it('accepts and echoes semantic_vad, noise reduction, output speed and transcription', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: {
          input: {
            turn_detection: {
              type: 'semantic_vad',
              eagerness: 'high',
              create_response: false,
              interrupt_response: true,
            },
            noise_reduction: { type: 'far_field' },
            transcription: { model: 'gpt-4o-mini-transcribe', language: 'de', prompt: 'Namen' },
          },
          output: { speed: 1.25 },
        },
      },
    });
    const updated = (await client.next()).session as { audio: { input: Record<string, unknown> } };
    expect(updated.audio).toEqual({
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        turn_detection: {
          type: 'semantic_vad',
          eagerness: 'high',
          create_response: false,
          interrupt_response: true,
        },
        noise_reduction: { type: 'far_field' },
        transcription: { model: 'gpt-4o-mini-transcribe', language: 'de', prompt: 'Namen' },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1.25 },
    });
    // Unspecified semantic_vad fields get their defaults; null clears noise reduction.
    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: { input: { turn_detection: { type: 'semantic_vad' }, noise_reduction: null } },
      },
    });
    expect((await client.next()).session).toMatchObject({
      audio: {
        input: {
          turn_detection: {
            type: 'semantic_vad',
            eagerness: 'auto',
            create_response: true,
            interrupt_response: true,
          },
          noise_reduction: null,
        },
      },
    });
  });

  it('accepts every server_vad field and echoes it', async () => {
    const client = await session(await engine());
    const td = {
      type: 'server_vad',
      threshold: 0.6,
      prefix_padding_ms: 200,
      silence_duration_ms: 450,
      idle_timeout_ms: 6000,
      create_response: false,
      interrupt_response: false,
    };
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: td } } },
    });
    expect((await client.next()).session).toMatchObject({ audio: { input: { turn_detection: td } } });
  });

  it('refuses what the GA API refuses, with its codes', async () => {
    const client = await session(await engine());
    const input = 'session.audio.input';
    const cases: [Record<string, unknown>, string, string][] = [
      [{ temperature: 0.8 }, 'unknown_parameter', 'session.temperature'],
      [{ turn_detection: { type: 'server_vad' } }, 'unknown_parameter', 'session.turn_detection'],
      [
        { audio: { input: { turn_detection: { type: 'semantic_vad', threshold: 0.5 } } } },
        'unknown_parameter',
        `${input}.turn_detection.threshold`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'server_vad', eagerness: 'low' } } } },
        'unknown_parameter',
        `${input}.turn_detection.eagerness`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'semantic_vad', eagerness: 'fast' } } } },
        'invalid_value',
        `${input}.turn_detection.eagerness`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'push_to_talk' } } } },
        'invalid_value',
        `${input}.turn_detection.type`,
      ],
      [
        { audio: { input: { turn_detection: { threshold: 0.5 } } } },
        'missing_required_parameter',
        `${input}.turn_detection.type`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'server_vad', threshold: 1.5 } } } },
        'decimal_above_max_value',
        `${input}.turn_detection.threshold`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'server_vad', idle_timeout_ms: 1000 } } } },
        'integer_below_min_value',
        `${input}.turn_detection.idle_timeout_ms`,
      ],
      [
        { audio: { input: { turn_detection: { type: 'server_vad', create_response: 'yes' } } } },
        'invalid_type',
        `${input}.turn_detection.create_response`,
      ],
      [
        { audio: { input: { noise_reduction: { type: 'studio' } } } },
        'invalid_value',
        `${input}.noise_reduction.type`,
      ],
      [
        { audio: { input: { noise_reduction: { type: 'near_field', level: 2 } } } },
        'unknown_parameter',
        `${input}.noise_reduction.level`,
      ],
      [{ audio: { output: { speed: 0.2 } } }, 'decimal_below_min_value', 'session.audio.output.speed'],
      [{ audio: { output: { speed: 1.6 } } }, 'decimal_above_max_value', 'session.audio.output.speed'],
    ];
    for (const [patch, code, param] of cases) {
      client.send({ type: 'session.update', session: { type: 'realtime', ...patch } });
      expect((await client.next()).error, param).toMatchObject({ code, param });
    }
  });

  it('runs semantic_vad like server_vad: turns are detected and committed, create_response is honoured', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: {
          input: { turn_detection: { type: 'semantic_vad', eagerness: 'high', create_response: false } },
        },
      },
    });
    await client.next('session.updated');
    appendAudio(client, Buffer.concat([silence(300), speechBurst(700), silence(600)]));
    await client.next('input_audio_buffer.speech_started');
    await client.next('input_audio_buffer.speech_stopped');
    const committed = await client.next('input_audio_buffer.committed');
    await client.next('conversation.item.done');
    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    expect(client.received.some((e) => e.type === 'response.created')).toBe(false);
    // A manual response.create still answers the committed turn.
    client.send({ type: 'response.create' });
    const done = await client.next('response.done');
    expect((done.response as { status: string }).status).toBe('completed');
    expect(committed.item_id).toEqual(expect.stringMatching(/^item_/));
  });
});

describe('session.update (beta)', () => {
  it('accepts flat fields incl. temperature, max_response_output_tokens and modalities', async () => {
    const client = await session(await engine({ allowBetaShape: true }), BETA);
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
    const client = await session(await engine({ allowBetaShape: true }), BETA);
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
