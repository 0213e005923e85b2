import {
  BETA_TO_GA_AUDIO_FORMAT,
  type BetaRealtimeSession,
  type RealtimeAudioFormat,
  type RealtimeSession,
} from '@rtv/protocol/openai-realtime';
import { RequestError } from './errors.js';
import {
  expectArray,
  expectEnum,
  expectNumber,
  expectObject,
  expectString,
  invalidValue,
  type Json,
  missing,
  parseMaxTokens,
  parseNoiseReduction,
  parsePrompt,
  parseSpeed,
  parseToolChoice,
  parseTools,
  parseTracing,
  parseTranscription,
  parseTruncation,
  parseTurnDetection,
  parseVoice,
  rejectUnknown,
} from './validate.js';

/** What the engine serves when the client does not say otherwise (the provider's defaults). */
export const DEFAULT_INSTRUCTIONS =
  'Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Keep your answers short.';
export const PCM_24K: RealtimeAudioFormat = { type: 'audio/pcm', rate: 24000 };
/** Beta-only sampling temperature; GA dropped the field. */
export const DEFAULT_TEMPERATURE = 0.8;

/**
 * The effective session. The engine keeps one canonical GA-shaped object per connection and projects it to
 * the beta shape on the way out, so both shapes share one set of semantics.
 */
export interface SessionState {
  session: RealtimeSession;
  temperature: number;
}

export function defaultSession(id: string, model: string, expiresAt: number): SessionState {
  return {
    temperature: DEFAULT_TEMPERATURE,
    session: {
      type: 'realtime',
      object: 'realtime.session',
      id,
      model,
      output_modalities: ['audio'],
      instructions: DEFAULT_INSTRUCTIONS,
      audio: {
        input: {
          format: { ...PCM_24K },
          transcription: null,
          noise_reduction: null,
          turn_detection: {
            type: 'server_vad',
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 200,
            idle_timeout_ms: null,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { ...PCM_24K }, voice: 'alloy', speed: 1 },
      },
      tools: [],
      tool_choice: 'auto',
      max_output_tokens: 'inf',
      truncation: 'auto',
      tracing: null,
      prompt: null,
      include: null,
      expires_at: expiresAt,
    },
  };
}

/** Facts about the conversation that limit which updates are legal. */
export interface UpdateContext {
  /** The provider refuses to change the voice once the model has spoken. */
  assistantAudioPresent: boolean;
}

type Op = (state: SessionState) => void;

/**
 * Validates a GA `session.update` body and returns the new state. Everything is checked before anything is
 * applied, so a rejected update leaves the session exactly as it was (the provider discards it whole).
 */
export function applyGaUpdate(current: SessionState, raw: unknown, ctx: UpdateContext): SessionState {
  const body = expectObject(raw, 'session');
  rejectUnknown(
    body,
    [
      'type',
      'model',
      'output_modalities',
      'instructions',
      'audio',
      'tools',
      'tool_choice',
      'max_output_tokens',
      'truncation',
      'tracing',
      'prompt',
      'include',
    ],
    'session',
  );
  if (body.type === undefined) throw missing('session.type');
  const type = expectEnum(body.type, ['realtime', 'transcription'] as const, 'session.type');
  if (type === 'transcription') {
    throw new RequestError(
      'invalid_value',
      "The local engine serves 'realtime' sessions only; 'transcription' is not supported.",
      'session.type',
    );
  }
  const ops: Op[] = [];
  ops.push(...commonOps(body, 'session'));
  if (body.output_modalities !== undefined) {
    const modalities = parseGaModalities(body.output_modalities, 'session.output_modalities');
    ops.push((s) => {
      s.session.output_modalities = modalities;
    });
  }
  if (body.audio !== undefined) ops.push(...gaAudioOps(body.audio, current, ctx));
  if (body.max_output_tokens !== undefined) {
    const max = parseMaxTokens(body.max_output_tokens, 'session.max_output_tokens');
    ops.push((s) => {
      s.session.max_output_tokens = max;
    });
  }
  if (body.truncation !== undefined) {
    const truncation = parseTruncation(body.truncation, 'session.truncation');
    ops.push((s) => {
      s.session.truncation = truncation;
    });
  }
  if (body.tracing !== undefined) {
    const tracing = parseTracing(body.tracing, 'session.tracing');
    ops.push((s) => {
      s.session.tracing = tracing;
    });
  }
  if (body.prompt !== undefined) {
    const prompt = parsePrompt(body.prompt, 'session.prompt');
    ops.push((s) => {
      s.session.prompt = prompt;
    });
  }
  if (body.include !== undefined) {
    const include =
      body.include === null
        ? null
        : expectArray(body.include, 'session.include').map((v, i) =>
            expectEnum(v, ['item.input_audio_transcription.logprobs'] as const, `session.include[${i}]`),
          );
    ops.push((s) => {
      s.session.include = include;
    });
  }
  return applyOps(current, ops);
}

/** Validates a beta (flat) `session.update` body; same all-or-nothing rule as {@link applyGaUpdate}. */
export function applyBetaUpdate(current: SessionState, raw: unknown, ctx: UpdateContext): SessionState {
  const body = expectObject(raw, 'session');
  rejectUnknown(
    body,
    [
      'model',
      'modalities',
      'instructions',
      'voice',
      'input_audio_format',
      'output_audio_format',
      'input_audio_transcription',
      'input_audio_noise_reduction',
      'turn_detection',
      'tools',
      'tool_choice',
      'temperature',
      'max_response_output_tokens',
      'speed',
      'tracing',
    ],
    'session',
  );
  const ops: Op[] = commonOps(body, 'session');
  const input =
    (mutate: (i: RealtimeSession['audio']['input']) => void): Op =>
    (s) =>
      mutate(s.session.audio.input);
  const output =
    (mutate: (o: RealtimeSession['audio']['output']) => void): Op =>
    (s) =>
      mutate(s.session.audio.output);
  if (body.modalities !== undefined) {
    const modalities = parseBetaModalities(body.modalities, 'session.modalities');
    ops.push((s) => {
      s.session.output_modalities = modalities;
    });
  }
  if (body.voice !== undefined) {
    const voice = checkVoice(body.voice, 'session.voice', current, ctx);
    ops.push(output((o) => (o.voice = voice)));
  }
  if (body.speed !== undefined) {
    const speed = parseSpeed(body.speed, 'session.speed');
    ops.push(output((o) => (o.speed = speed)));
  }
  if (body.input_audio_format !== undefined) {
    const format = parseBetaFormat(body.input_audio_format, 'session.input_audio_format');
    ops.push(input((i) => (i.format = format)));
  }
  if (body.output_audio_format !== undefined) {
    const format = parseBetaFormat(body.output_audio_format, 'session.output_audio_format');
    ops.push(output((o) => (o.format = format)));
  }
  if (body.input_audio_transcription !== undefined) {
    const t = parseTranscription(body.input_audio_transcription, 'session.input_audio_transcription');
    ops.push(input((i) => (i.transcription = t)));
  }
  if (body.input_audio_noise_reduction !== undefined) {
    const n = parseNoiseReduction(body.input_audio_noise_reduction, 'session.input_audio_noise_reduction');
    ops.push(input((i) => (i.noise_reduction = n)));
  }
  if (body.turn_detection !== undefined) {
    const td = parseTurnDetection(body.turn_detection, 'session.turn_detection', false);
    // Beta has no idle timeout; keep the canonical GA object complete.
    if (td?.type === 'server_vad') td.idle_timeout_ms = null;
    ops.push(input((i) => (i.turn_detection = td)));
  }
  if (body.temperature !== undefined) {
    const temperature = expectNumber(body.temperature, 'session.temperature', { min: 0.6, max: 1.2 });
    ops.push((s) => {
      s.temperature = temperature;
    });
  }
  if (body.max_response_output_tokens !== undefined) {
    const max = parseMaxTokens(body.max_response_output_tokens, 'session.max_response_output_tokens');
    ops.push((s) => {
      s.session.max_output_tokens = max;
    });
  }
  if (body.tracing !== undefined) {
    const tracing = parseTracing(body.tracing, 'session.tracing');
    ops.push((s) => {
      s.session.tracing = tracing;
    });
  }
  return applyOps(current, ops);
}

/** The beta projection of the canonical session, as a beta server reports it. */
export function renderBetaSession(state: SessionState): BetaRealtimeSession {
  const s = state.session;
  const td = s.audio.input.turn_detection;
  let turnDetection: BetaRealtimeSession['turn_detection'] = null;
  if (td?.type === 'server_vad') {
    const { idle_timeout_ms: _idle, ...rest } = td;
    turnDetection = rest;
  } else if (td) turnDetection = td;
  return {
    id: s.id,
    object: 'realtime.session',
    model: s.model,
    expires_at: s.expires_at,
    modalities: s.output_modalities[0] === 'audio' ? ['text', 'audio'] : ['text'],
    instructions: s.instructions,
    voice: s.audio.output.voice,
    input_audio_format: 'pcm16',
    output_audio_format: 'pcm16',
    input_audio_transcription: s.audio.input.transcription,
    input_audio_noise_reduction: s.audio.input.noise_reduction,
    turn_detection: turnDetection,
    tools: s.tools,
    tool_choice: s.tool_choice,
    temperature: state.temperature,
    max_response_output_tokens: s.max_output_tokens,
    speed: s.audio.output.speed,
    tracing: s.tracing,
  };
}

/** Applies validated changes to a copy: the caller swaps it in, so a throw above leaves nothing half-done. */
function applyOps(current: SessionState, ops: Op[]): SessionState {
  const next = structuredClone(current);
  for (const op of ops) op(next);
  return next;
}

/** Fields both shapes spell the same way at the top level. */
function commonOps(body: Json, path: string): Op[] {
  const ops: Op[] = [];
  // The URL's `?model=` picks the model for good. Like the provider, a different `model` here is accepted
  // and ignored (the reply reports the URL's): SDKs such as openai-agents-js always send their own default.
  if (body.model !== undefined) expectString(body.model, `${path}.model`);
  if (body.instructions !== undefined) {
    const instructions = expectString(body.instructions, `${path}.instructions`, 64 * 1024);
    ops.push((s) => {
      s.session.instructions = instructions;
    });
  }
  if (body.tools !== undefined) {
    const tools = parseTools(body.tools, `${path}.tools`);
    ops.push((s) => {
      s.session.tools = tools;
    });
  }
  if (body.tool_choice !== undefined) {
    const choice = parseToolChoice(body.tool_choice, `${path}.tool_choice`);
    ops.push((s) => {
      s.session.tool_choice = choice;
    });
  }
  return ops;
}

/** GA nests what beta kept flat: `audio.input.{format, transcription, noise_reduction, turn_detection}`, `audio.output.{format, voice, speed}`. */
function gaAudioOps(raw: unknown, current: SessionState, ctx: UpdateContext): Op[] {
  const audio = expectObject(raw, 'session.audio');
  rejectUnknown(audio, ['input', 'output'], 'session.audio');
  const ops: Op[] = [];
  if (audio.input !== undefined) {
    const input = expectObject(audio.input, 'session.audio.input');
    const p = 'session.audio.input';
    rejectUnknown(input, ['format', 'transcription', 'noise_reduction', 'turn_detection'], p);
    if (input.format !== undefined) {
      const format = parseGaFormat(input.format, `${p}.format`);
      ops.push((s) => {
        s.session.audio.input.format = format;
      });
    }
    if (input.transcription !== undefined) {
      const t = parseTranscription(input.transcription, `${p}.transcription`);
      ops.push((s) => {
        s.session.audio.input.transcription = t;
      });
    }
    if (input.noise_reduction !== undefined) {
      const n = parseNoiseReduction(input.noise_reduction, `${p}.noise_reduction`);
      ops.push((s) => {
        s.session.audio.input.noise_reduction = n;
      });
    }
    if (input.turn_detection !== undefined) {
      const td = parseTurnDetection(input.turn_detection, `${p}.turn_detection`, true);
      ops.push((s) => {
        s.session.audio.input.turn_detection = td;
      });
    }
  }
  if (audio.output !== undefined) {
    const output = expectObject(audio.output, 'session.audio.output');
    const p = 'session.audio.output';
    rejectUnknown(output, ['format', 'voice', 'speed'], p);
    if (output.format !== undefined) {
      const format = parseGaFormat(output.format, `${p}.format`);
      ops.push((s) => {
        s.session.audio.output.format = format;
      });
    }
    if (output.voice !== undefined) {
      const voice = checkVoice(output.voice, `${p}.voice`, current, ctx);
      ops.push((s) => {
        s.session.audio.output.voice = voice;
      });
    }
    if (output.speed !== undefined) {
      const speed = parseSpeed(output.speed, `${p}.speed`);
      ops.push((s) => {
        s.session.audio.output.speed = speed;
      });
    }
  }
  return ops;
}

/** Re-sending the current voice is fine; changing it after the model has spoken is not. */
function checkVoice(raw: unknown, param: string, current: SessionState, ctx: UpdateContext): string {
  const voice = parseVoice(raw, param);
  if (voice !== current.session.audio.output.voice && ctx.assistantAudioPresent) {
    throw new RequestError(
      'cannot_update_voice',
      "Cannot update a conversation's voice if assistant audio is present.",
      param,
    );
  }
  return voice;
}

function unsupportedFormat(name: string, param: string): RequestError {
  return new RequestError(
    'invalid_value',
    `Invalid value: '${name}'. The local engine supports 24 kHz PCM16 audio only ('audio/pcm' / 'pcm16').`,
    param,
  );
}

/** GA format object. The engine accepts PCM16 24 kHz only; G.711 is refused rather than silently ignored. */
export function parseGaFormat(raw: unknown, param: string): RealtimeAudioFormat {
  const format = expectObject(raw, param);
  const type = expectEnum(format.type, ['audio/pcm', 'audio/pcmu', 'audio/pcma'] as const, `${param}.type`);
  if (type !== 'audio/pcm') throw unsupportedFormat(type, `${param}.type`);
  rejectUnknown(format, ['type', 'rate'], param);
  if (format.rate !== undefined) {
    // Same check order as the provider: a low rate is "below minimum", anything else but 24000 is invalid.
    const rate = expectNumber(format.rate, `${param}.rate`, { min: 24000, integer: true });
    if (rate !== 24000) throw invalidValue(rate, `${param}.rate`, ['24000']);
  }
  return { ...PCM_24K };
}

function parseBetaFormat(raw: unknown, param: string): RealtimeAudioFormat {
  const name = expectEnum(
    raw,
    Object.keys(BETA_TO_GA_AUDIO_FORMAT) as (keyof typeof BETA_TO_GA_AUDIO_FORMAT)[],
    param,
  );
  if (name !== 'pcm16') throw unsupportedFormat(name, param);
  return { ...PCM_24K };
}

/** GA: exactly one output modality. */
export function parseGaModalities(raw: unknown, param: string): ['audio'] | ['text'] {
  const list = expectArray(raw, param);
  if (list.length !== 1) {
    throw new RequestError(
      'invalid_value',
      `Invalid value for '${param}': expected exactly one of ['audio'] or ['text'].`,
      param,
    );
  }
  return [expectEnum(list[0], ['audio', 'text'] as const, `${param}[0]`)] as ['audio'] | ['text'];
}

/** Beta: `["text"]` or `["text","audio"]` in any order; audio without text was never a beta mode. */
export function parseBetaModalities(raw: unknown, param: string): ['audio'] | ['text'] {
  const list = expectArray(raw, param).map((v, i) =>
    expectEnum(v, ['text', 'audio'] as const, `${param}[${i}]`),
  );
  if (!list.includes('text')) {
    throw new RequestError(
      'invalid_value',
      `Invalid modalities: ${JSON.stringify(list)}. Supported combinations are: ["text"] and ["audio", "text"].`,
      param,
    );
  }
  return list.includes('audio') ? ['audio'] : ['text'];
}
