import { describe, expect, it } from 'vitest';
import {
  type ClientMessage,
  DEFAULT_SESSION_CONFIG,
  type ErrorCode,
  MAX_FUNCTION_OUTPUT_CHARS,
  MAX_TOOL_PARAMETERS_CHARS,
  MAX_TOOL_PARAMETERS_DEPTH,
  MAX_TOOLS,
  parseClientFrame,
  TRANSCRIPTION_MODELS,
  VAD_EAGERNESS,
} from '../src/index.js';

/**
 * The protocol 1.x additions a production voice app needs: function tools, tool choice, semantic VAD and
 * the new server VAD fields, noise reduction, speed, input transcription, function call outputs and
 * interrupting text. Each is accepted in its documented forms and rejected, with the field named, in
 * the others.
 */

function update(session_update: Record<string, unknown>): string {
  return JSON.stringify({ type: 'session.update', session_update });
}
function input(conversation_item_input: Record<string, unknown>): string {
  return JSON.stringify({ type: 'conversation.item.input', conversation_item_input });
}
const tool = (name: string, extra: Record<string, unknown> = {}) => ({
  type: 'function' as const,
  name,
  ...extra,
});

const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } },
    required: ['city'],
    additionalProperties: false,
  },
};

/** `parameters` nested `depth` levels deep (the object itself is level 1). */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { type: 'string' };
  for (let i = 1; i < depth; i++) value = { items: value };
  return value;
}

describe('session_update extensions are accepted', () => {
  const valid: Array<[string, ClientMessage]> = [
    [
      'function tools with every field, and tool_choice',
      {
        type: 'session.update',
        session_update: {
          tools: [WEATHER_TOOL, tool('hang-up'), tool('x'.repeat(64), { description: 'd'.repeat(1024) })],
          tool_choice: 'auto',
        },
      },
    ],
    ['no tools', { type: 'session.update', session_update: { tools: [], tool_choice: 'none' } }],
    [
      `${MAX_TOOLS} tools`,
      {
        type: 'session.update',
        session_update: { tools: Array.from({ length: MAX_TOOLS }, (_, i) => tool(`t${i}`)) },
      },
    ],
    ['tool_choice "required"', { type: 'session.update', session_update: { tool_choice: 'required' } }],
    [
      'tool_choice of one function',
      { type: 'session.update', session_update: { tool_choice: { type: 'function', name: 'get_weather' } } },
    ],
    [
      'parameters with any JSON inside, at the depth limit',
      {
        type: 'session.update',
        session_update: {
          tools: [
            tool('a', { parameters: {} }),
            tool('b', { parameters: { enum: [null, 1, 'x', true, [1, [2]]], '__proto__ ': 1 } }),
            tool('c', { parameters: nested(MAX_TOOL_PARAMETERS_DEPTH) }),
          ],
        },
      },
    ],
    [
      'server VAD with every field',
      {
        type: 'session.update',
        session_update: {
          turn_detection: {
            type: 'server_vad',
            threshold: 0.6,
            prefix_padding_ms: 300,
            silence_duration_ms: 500,
            idle_timeout_ms: 5000,
            create_response: false,
            interrupt_response: false,
          },
        },
      },
    ],
    [
      'server VAD idle timeout at the top and off',
      {
        type: 'session.update',
        event_id: 'vad',
        session_update: { turn_detection: { type: 'server_vad', idle_timeout_ms: 30_000 } },
      },
    ],
    [
      'server VAD idle timeout null',
      {
        type: 'session.update',
        session_update: { turn_detection: { type: 'server_vad', idle_timeout_ms: null } },
      },
    ],
    [
      'bare semantic VAD',
      { type: 'session.update', session_update: { turn_detection: { type: 'semantic_vad' } } },
    ],
    [
      'semantic VAD with every field',
      {
        type: 'session.update',
        session_update: {
          turn_detection: {
            type: 'semantic_vad',
            eagerness: 'high',
            create_response: true,
            interrupt_response: false,
          },
        },
      },
    ],
    [
      'noise reduction, speed and transcription',
      {
        type: 'session.update',
        session_update: {
          input_audio_noise_reduction: { type: 'far_field' },
          speed: 0.25,
          input_audio_transcription: { model: 'whisper-1', language: 'pt-BR', prompt: 'p'.repeat(1024) },
        },
      },
    ],
    [
      'everything off',
      {
        type: 'session.update',
        session_update: {
          input_audio_noise_reduction: null,
          speed: 1.5,
          input_audio_transcription: null,
          turn_detection: null,
        },
      },
    ],
    [
      'transcription with defaults',
      { type: 'session.update', session_update: { input_audio_transcription: {}, speed: 1 } },
    ],
  ];

  it.each(valid)('%s', (_name, message) => {
    expect(parseClientFrame(JSON.stringify(message))).toEqual({ ok: true, message });
  });

  it.each(VAD_EAGERNESS)('eagerness %s', (eagerness) => {
    expect(parseClientFrame(update({ turn_detection: { type: 'semantic_vad', eagerness } })).ok).toBe(true);
  });

  it.each(TRANSCRIPTION_MODELS)('transcription model %s', (model) => {
    expect(parseClientFrame(update({ input_audio_transcription: { model } })).ok).toBe(true);
  });

  it('the default configuration is a valid update, with transcription on', () => {
    expect(DEFAULT_SESSION_CONFIG.input_audio_transcription).toEqual({ model: 'gpt-4o-mini-transcribe' });
    expect(Object.isFrozen(DEFAULT_SESSION_CONFIG.input_audio_transcription)).toBe(true);
    expect(parseClientFrame(update({ ...DEFAULT_SESSION_CONFIG })).ok).toBe(true);
  });
});

describe('conversation_item_input extensions are accepted', () => {
  const valid: Array<[string, ClientMessage]> = [
    [
      'a function call output',
      {
        type: 'conversation.item.input',
        conversation_item_input: {
          type: 'function_call_output',
          call_id: 'call_8Jq2',
          output: '{"temperature_c":21,"sky":"clear"}',
        },
      },
    ],
    [
      'a function call output without a follow-up response, with an event_id',
      {
        type: 'conversation.item.input',
        event_id: 'fn-1',
        conversation_item_input: {
          type: 'function_call_output',
          call_id: 'c'.repeat(64),
          output: '',
          respond: false,
        },
      },
    ],
    [
      'the largest function call output',
      {
        type: 'conversation.item.input',
        conversation_item_input: {
          type: 'function_call_output',
          call_id: 'c',
          output: 'o'.repeat(MAX_FUNCTION_OUTPUT_CHARS),
          respond: true,
        },
      },
    ],
    [
      'text that interrupts the reply',
      {
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'Stop, I meant Porto.', interrupt: true },
      },
    ],
    [
      'text that waits for the reply',
      {
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'And tomorrow?', interrupt: false },
      },
    ],
  ];

  it.each(valid)('%s', (_name, message) => {
    expect(parseClientFrame(JSON.stringify(message))).toEqual({ ok: true, message });
  });
});

type BadCase = [name: string, raw: string, field: string, rule?: string];

const FN = { type: 'function_call_output', call_id: 'call_1', output: 'ok' };

const BAD: BadCase[] = [
  // tools
  ['tools not an array', update({ tools: WEATHER_TOOL }), 'session_update.tools', 'must be an array'],
  [
    `more than ${MAX_TOOLS} tools`,
    update({ tools: Array.from({ length: MAX_TOOLS + 1 }, (_, i) => tool(`t${i}`)) }),
    'session_update.tools',
    `must have at most ${MAX_TOOLS} items`,
  ],
  [
    'a tool name with a space',
    update({ tools: [tool('get weather')] }),
    'session_update.tools.0.name',
    'must be 1–64 characters from a-z, A-Z, 0-9, "_" and "-"',
  ],
  ['an empty tool name', update({ tools: [WEATHER_TOOL, tool('')] }), 'session_update.tools.1.name'],
  ['a 65-character tool name', update({ tools: [tool('x'.repeat(65))] }), 'session_update.tools.0.name'],
  [
    'a tool without a name',
    update({ tools: [{ type: 'function' }] }),
    'session_update.tools.0.name',
    'is required',
  ],
  [
    'a tool of another type',
    update({ tools: [{ type: 'mcp', name: 'x' }] }),
    'session_update.tools.0.type',
    'must be "function"',
  ],
  [
    'a tool with an unknown field',
    update({ tools: [tool('a', { strict: true })] }),
    'session_update.tools.0.strict',
    'is not a known field',
  ],
  [
    'a description over 1024 characters',
    update({ tools: [tool('a', { description: 'd'.repeat(1025) })] }),
    'session_update.tools.0.description',
    'must be at most 1024 characters',
  ],
  [
    'parameters that are a string',
    update({ tools: [tool('a', { parameters: '{"type":"object"}' })] }),
    'session_update.tools.0.parameters',
    'must be an object',
  ],
  [
    'parameters that are an array',
    update({ tools: [tool('a', { parameters: [] })] }),
    'session_update.tools.0.parameters',
    'must be an object',
  ],
  [
    'parameters over the size limit',
    update({
      tools: [
        WEATHER_TOOL,
        tool('big', { parameters: { description: 'x'.repeat(MAX_TOOL_PARAMETERS_CHARS) } }),
      ],
    }),
    'session_update.tools.1.parameters',
    `must be at most ${MAX_TOOL_PARAMETERS_CHARS} characters as JSON, got ${MAX_TOOL_PARAMETERS_CHARS + 18}`,
  ],
  [
    'parameters with too many objects to be small enough',
    update({ tools: [tool('wide', { parameters: { enum: Array.from({ length: 9000 }, () => []) } })] }),
    'session_update.tools.0.parameters',
    `must be at most ${MAX_TOOL_PARAMETERS_CHARS} characters as JSON`,
  ],
  [
    'parameters nested too deep',
    update({ tools: [tool('deep', { parameters: nested(MAX_TOOL_PARAMETERS_DEPTH + 1) })] }),
    'session_update.tools.0.parameters',
    `must be nested at most ${MAX_TOOL_PARAMETERS_DEPTH} levels deep`,
  ],
  [
    'two tools with one name',
    update({ tools: [tool('a'), tool('b'), tool('a')] }),
    'session_update.tools.2.name',
    'must be unique (tools.0 has the same name)',
  ],
  // tool_choice
  [
    'an unknown tool_choice',
    update({ tool_choice: 'any' }),
    'session_update.tool_choice',
    'must be "auto", "none", "required" or {"type":"function","name":…}',
  ],
  [
    'a tool_choice function without a name',
    update({ tool_choice: { type: 'function' } }),
    'session_update.tool_choice.name',
    'is required',
  ],
  [
    'a tool_choice function with a bad name',
    update({ tool_choice: { type: 'function', name: 'a b' } }),
    'session_update.tool_choice.name',
  ],
  // turn_detection
  [
    'idle timeout below 5000',
    update({ turn_detection: { type: 'server_vad', idle_timeout_ms: 4999 } }),
    'session_update.turn_detection.idle_timeout_ms',
    'must be an integer from 5000 to 30000, or null',
  ],
  [
    'idle timeout above 30000',
    update({ turn_detection: { type: 'server_vad', idle_timeout_ms: 30_001 } }),
    'session_update.turn_detection.idle_timeout_ms',
  ],
  [
    'create_response not a boolean',
    update({ turn_detection: { type: 'server_vad', create_response: 'yes' } }),
    'session_update.turn_detection.create_response',
    'must be true or false',
  ],
  [
    'an unknown eagerness',
    update({ turn_detection: { type: 'semantic_vad', eagerness: 'eager' } }),
    'session_update.turn_detection.eagerness',
    'must be one of low, medium, high, auto',
  ],
  [
    'a server VAD field in semantic VAD',
    update({ turn_detection: { type: 'semantic_vad', threshold: 0.5 } }),
    'session_update.turn_detection.threshold',
    'is not a known field',
  ],
  [
    'interrupt_response not a boolean',
    update({ turn_detection: { type: 'semantic_vad', interrupt_response: 1 } }),
    'session_update.turn_detection.interrupt_response',
  ],
  [
    'turn detection without a type',
    update({ turn_detection: { threshold: 0.5 } }),
    'session_update.turn_detection.type',
    'is required',
  ],
  // noise reduction, speed, transcription
  [
    'an unknown noise reduction type',
    update({ input_audio_noise_reduction: { type: 'studio' } }),
    'session_update.input_audio_noise_reduction.type',
    'must be one of near_field, far_field',
  ],
  [
    'noise reduction as a string',
    update({ input_audio_noise_reduction: 'near_field' }),
    'session_update.input_audio_noise_reduction',
    'must be null or {"type":"near_field" | "far_field"}',
  ],
  ['speed below 0.25', update({ speed: 0.2 }), 'session_update.speed', 'must be between 0.25 and 1.5'],
  ['speed above 1.5', update({ speed: 2 }), 'session_update.speed'],
  [
    'an unknown transcription model',
    update({ input_audio_transcription: { model: 'gpt-4o-transcribe-diarize' } }),
    'session_update.input_audio_transcription.model',
    'must be one of whisper-1, gpt-4o-mini-transcribe, gpt-4o-transcribe',
  ],
  [
    'a bad transcription language',
    update({ input_audio_transcription: { language: 'english' } }),
    'session_update.input_audio_transcription.language',
  ],
  [
    'a transcription prompt over 1024 characters',
    update({ input_audio_transcription: { prompt: 'p'.repeat(1025) } }),
    'session_update.input_audio_transcription.prompt',
    'must be at most 1024 characters',
  ],
  [
    'transcription as true',
    update({ input_audio_transcription: true }),
    'session_update.input_audio_transcription',
  ],
  // function_call_output
  [
    'respond not a boolean',
    input({ ...FN, respond: 'true' }),
    'conversation_item_input.respond',
    'must be true or false',
  ],
  [
    'a missing call_id',
    input({ type: FN.type, output: 'ok' }),
    'conversation_item_input.call_id',
    'is required',
  ],
  ['an empty call_id', input({ ...FN, call_id: '' }), 'conversation_item_input.call_id', 'must not be empty'],
  ['a 65-character call_id', input({ ...FN, call_id: 'c'.repeat(65) }), 'conversation_item_input.call_id'],
  [
    'a missing output',
    input({ type: FN.type, call_id: 'c' }),
    'conversation_item_input.output',
    'is required',
  ],
  [
    'output as an object',
    input({ ...FN, output: { ok: true } }),
    'conversation_item_input.output',
    'must be a string',
  ],
  [
    'output over 64 KiB',
    input({ ...FN, output: 'o'.repeat(MAX_FUNCTION_OUTPUT_CHARS + 1) }),
    'conversation_item_input.output',
    `must be at most ${MAX_FUNCTION_OUTPUT_CHARS} characters`,
  ],
  ['text in a function call output', input({ ...FN, text: 'hi' }), 'conversation_item_input.text'],
  [
    'interrupt not a boolean',
    input({ type: 'input_text', text: 'hi', interrupt: 'yes' }),
    'conversation_item_input.interrupt',
    'must be true or false',
  ],
  [
    'interrupt on audio',
    input({ type: 'input_audio_buffer', audio: 'AAAA', interrupt: true }),
    'conversation_item_input.interrupt',
  ],
  [
    'an unknown item type lists the new one',
    input({ type: 'function_call', call_id: 'c', output: '' }),
    'conversation_item_input.type',
    'must be one of input_audio_buffer, input_text, function_call_output',
  ],
];

describe('extension fields reject bad values with invalid_message and the field path', () => {
  it('has distinct inputs', () => {
    expect(new Set(BAD.map(([, raw]) => raw)).size).toBe(BAD.length);
  });

  it.each(BAD)('%s', (_name, raw, field, rule) => {
    const result = parseClientFrame(raw);
    if (result.ok) throw new Error(`accepted: ${raw.slice(0, 200)}`);
    expect(result.error.code).toBe<ErrorCode>('invalid_message');
    expect(result.error.field).toBe(field);
    expect(result.error.message.startsWith(`${field}: `)).toBe(true);
    if (rule !== undefined) expect(result.error.message.slice(field.length + 2)).toContain(rule);
  });

  it('carries the event_id of a rejected tools update', () => {
    const raw = JSON.stringify({
      type: 'session.update',
      event_id: 'tools-1',
      session_update: { tools: [tool('a'), tool('a')] },
    });
    expect(parseClientFrame(raw)).toMatchObject({ ok: false, error: { eventId: 'tools-1' } });
  });

  it('rejects 100,000 levels of nesting inside parameters without overflowing the stack', () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const raw = update({ tools: [tool('deep', { parameters: {} })] }).replace(
      '"parameters":{}',
      `"parameters":${deep}`,
    );
    expect(parseClientFrame(raw)).toMatchObject({
      ok: false,
      error: { code: 'invalid_message', field: 'session_update.tools.0.parameters' },
    });
  });
});
