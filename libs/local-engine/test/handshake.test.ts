import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isRealtimeModel, isRetiredModel, RETIRED_MODELS } from '../src/index.js';
import { connect, engine, session } from './helpers.js';

const ID = (prefix: string) => new RegExp(`^${prefix}_[0-9A-Za-z]{21}$`);

describe('handshake', () => {
  it('refuses other paths with 404 before the upgrade', async () => {
    const e = await engine();
    const ws = new WebSocket(e.url.replace('/v1/realtime', '/v1/other?model=gpt-realtime'));
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(101));
    });
    ws.on('error', () => {}); // terminate() during a refused handshake reports an error by design
    ws.terminate();
    expect(status).toBe(404);
  });

  it('sends session.created first, with GA defaults and provider-style ids', async () => {
    const e = await engine();
    const client = await connect(e, { model: 'gpt-realtime-mini' });
    const created = await client.next();
    expect(created.type).toBe('session.created');
    expect(created.event_id).toMatch(ID('event'));
    const s = created.session as { id: string; expires_at: number };
    expect(s.id).toMatch(ID('sess'));
    expect(s).toMatchObject({
      type: 'realtime',
      object: 'realtime.session',
      model: 'gpt-realtime-mini',
      output_modalities: ['audio'],
      tools: [],
      tool_choice: 'auto',
      max_output_tokens: 'inf',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: null,
          turn_detection: {
            type: 'server_vad',
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 200,
          },
        },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
      },
    });
    expect(Math.abs(s.expires_at - (Date.now() / 1000 + 3600))).toBeLessThan(5);
    expect(e.connections()).toBe(1);
  });

  it('closes 4000 with missing_model when ?model= is absent', async () => {
    const e = await engine();
    const client = await connect(e, { model: null });
    const err = await client.next();
    expect(err).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', code: 'missing_model' },
    });
    expect(await client.closed).toEqual({ code: 4000, reason: 'invalid_request_error.missing_model' });
    expect(e.connections()).toBe(0);
  });

  it('closes 4000 with invalid_model for an unknown model', async () => {
    const e = await engine();
    const client = await connect(e, { model: 'gpt-nope' });
    expect((await client.next()).error).toMatchObject({ code: 'invalid_model' });
    expect(await client.closed).toEqual({ code: 4000, reason: 'invalid_request_error.invalid_model' });
  });

  it('recognises GA and preview model ids, and marks the preview family retired', () => {
    const ga = [
      'gpt-realtime',
      'gpt-realtime-mini',
      'gpt-realtime-2025-08-28',
      'gpt-realtime-mini-2025-10-06',
      'gpt-realtime-1.5',
    ];
    for (const id of [...ga, ...RETIRED_MODELS]) expect(isRealtimeModel(id), id).toBe(true);
    for (const id of ['gpt-4o', 'realtime', 'gpt-realtime-', 'gpt-4o-realtime', 'GPT-REALTIME']) {
      expect(isRealtimeModel(id), id).toBe(false);
    }
    // The seed's default id is among them; every retired id is a preview id.
    expect(RETIRED_MODELS).toContain('gpt-4o-realtime-preview-2024-10-01');
    expect(RETIRED_MODELS.every((id) => id.includes('-realtime-preview'))).toBe(true);
    for (const id of [...RETIRED_MODELS, 'gpt-4o-realtime-preview-2025-01-01']) {
      expect(isRetiredModel(id), id).toBe(true);
    }
    for (const id of ga) expect(isRetiredModel(id), id).toBe(false);
  });

  it.each([...RETIRED_MODELS])(
    'refuses the retired model %s with invalid_model and close 4000',
    async (id) => {
      const e = await engine();
      const client = await connect(e, { model: id });
      const err = await client.next();
      expect(err).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', code: 'invalid_model', param: null, event_id: null },
      });
      expect((err.error as { message: string }).message).toContain(id);
      expect(await client.closed).toEqual({ code: 4000, reason: 'invalid_request_error.invalid_model' });
      expect(client.received).toHaveLength(1);
      expect(e.connections()).toBe(0);
    },
  );

  it.each(['gpt-realtime', 'gpt-realtime-2025-08-28', 'gpt-realtime-mini', 'gpt-realtime-mini-2025-10-06'])(
    'serves the GA model %s',
    async (id) => {
      const client = await connect(await engine(), { model: id });
      const created = await client.next();
      expect(created).toMatchObject({ type: 'session.created', session: { type: 'realtime', model: id } });
    },
  );

  describe('with apiKey', () => {
    it('closes 3000 when no key is presented', async () => {
      const e = await engine({ apiKey: 'sk-test-123' });
      const client = await connect(e);
      expect((await client.next()).error).toMatchObject({
        code: 'invalid_api_key',
        param: null,
        event_id: null,
      });
      expect(await client.closed).toEqual({ code: 3000, reason: 'invalid_request_error.invalid_api_key' });
    });

    it('closes 3000 for a wrong bearer key, without echoing it', async () => {
      const e = await engine({ apiKey: 'sk-test-123' });
      const client = await connect(e, { headers: { Authorization: 'Bearer sk-wrong-999' } });
      const err = await client.next();
      expect(err.error).toMatchObject({ code: 'invalid_api_key' });
      expect(JSON.stringify(err)).not.toContain('sk-wrong-999');
      expect((await client.closed).code).toBe(3000);
    });

    it('accepts the right bearer key', async () => {
      const e = await engine({ apiKey: 'sk-test-123' });
      const client = await connect(e, { headers: { Authorization: 'Bearer sk-test-123' } });
      expect((await client.next()).type).toBe('session.created');
    });

    it('accepts the key subprotocol and selects "realtime"', async () => {
      const e = await engine({ apiKey: 'ek_abc' });
      const client = await connect(e, { protocols: ['realtime', 'openai-insecure-api-key.ek_abc'] });
      expect(client.ws.protocol).toBe('realtime');
      expect((await client.next()).type).toBe('session.created');
    });
  });

  it('speaks the beta shape when the OpenAI-Beta header is sent and allowBetaShape is set', async () => {
    const e = await engine({ allowBetaShape: true });
    const client = await connect(e, { headers: { 'OpenAI-Beta': 'realtime=v1' } });
    const s = (await client.next('session.created')).session as Record<string, unknown>;
    expect(s).toMatchObject({
      object: 'realtime.session',
      modalities: ['text', 'audio'],
      voice: 'alloy',
      input_audio_format: 'pcm16',
      output_audio_format: 'pcm16',
      temperature: 0.8,
      max_response_output_tokens: 'inf',
      turn_detection: { type: 'server_vad', threshold: 0.5 },
    });
    expect(s).not.toHaveProperty('type');
    expect(s).not.toHaveProperty('audio');
  });

  it('speaks the beta shape for the beta subprotocol and still selects "realtime"', async () => {
    const e = await engine({ allowBetaShape: true });
    const client = await connect(e, { protocols: ['realtime', 'openai-beta.realtime-v1'] });
    expect(client.ws.protocol).toBe('realtime');
    expect((await client.next('session.created')).session).toHaveProperty('modalities');
  });

  it('refuses the beta shape by default with beta_api_shape_disabled and close 4000', async () => {
    const e = await engine();
    for (const opts of [
      { headers: { 'OpenAI-Beta': 'realtime=v1' } },
      { protocols: ['realtime', 'openai-beta.realtime-v1'] },
    ]) {
      const client = await connect(e, opts);
      expect((await client.next()).error).toMatchObject({
        type: 'invalid_request_error',
        code: 'beta_api_shape_disabled',
      });
      expect(await client.closed).toEqual({
        code: 4000,
        reason: 'invalid_request_error.beta_api_shape_disabled',
      });
    }
    // The beta check comes before the model check, as upstream: a retired beta model gets the shape error.
    const both = await connect(e, {
      model: 'gpt-4o-realtime-preview-2024-10-01',
      headers: { 'OpenAI-Beta': 'realtime=v1' },
    });
    expect((await both.next()).error).toMatchObject({ code: 'beta_api_shape_disabled' });
  });

  it('keeps the deprecated rejectBetaShape spelling working', async () => {
    const beta = { headers: { 'OpenAI-Beta': 'realtime=v1' } };
    const allowed = await connect(await engine({ rejectBetaShape: false }), beta);
    expect((await allowed.next()).session).toHaveProperty('modalities');
    const refused = await connect(await engine({ rejectBetaShape: true }), beta);
    expect((await refused.next()).error).toMatchObject({ code: 'beta_api_shape_disabled' });
    // allowBetaShape wins over the old spelling.
    const both = await connect(await engine({ rejectBetaShape: true, allowBetaShape: true }), beta);
    expect((await both.next()).type).toBe('session.created');
  });

  it('still serves GA clients by default', async () => {
    const e = await engine();
    const client = await session(e);
    client.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } });
    expect((await client.next()).type).toBe('session.updated');
  });
});
