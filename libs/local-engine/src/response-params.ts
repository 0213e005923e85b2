import type {
  RealtimeApiShape,
  RealtimeMaxTokens,
  RealtimeTool,
  RealtimeToolChoice,
} from '@rtv/protocol/openai-realtime';
import { type Conversation, parseItem, type StoredItem } from './conversation.js';
import { RequestError } from './errors.js';
import {
  parseBetaModalities,
  parseGaFormat,
  parseGaModalities,
  type SessionState,
} from './session-config.js';
import {
  expectArray,
  expectEnum,
  expectNumber,
  expectObject,
  expectString,
  parseMaxTokens,
  parseMetadata,
  parseToolChoice,
  parseTools,
  parseVoice,
  rejectUnknown,
} from './validate.js';

/** A `response.create` resolved against the session: every field the run needs, nothing optional. */
export interface ResponseParams {
  /** `auto` writes to the default conversation (one at a time); `none` is out-of-band. */
  conversation: 'auto' | 'none';
  outputModalities: ['audio'] | ['text'];
  instructions: string;
  voice: string;
  speed: number;
  tools: RealtimeTool[];
  toolChoice: RealtimeToolChoice;
  maxOutputTokens: RealtimeMaxTokens;
  temperature: number;
  metadata: Record<string, string> | null;
  /** The context the response sees: `input` when given, else the default conversation. */
  items: readonly StoredItem[];
}

const GA_KEYS = [
  'output_modalities',
  'instructions',
  'tools',
  'tool_choice',
  'max_output_tokens',
  'audio',
  'conversation',
  'input',
  'metadata',
  'prompt',
];
const BETA_KEYS = [
  'modalities',
  'instructions',
  'voice',
  'output_audio_format',
  'tools',
  'tool_choice',
  'temperature',
  'max_response_output_tokens',
  'max_output_tokens',
  'conversation',
  'input',
  'metadata',
];

/** Validates the optional `response` object of `response.create`; per-response values override the session. */
export function parseResponseParams(
  raw: unknown,
  shape: RealtimeApiShape,
  state: SessionState,
  conversation: Conversation,
): ResponseParams {
  const s = state.session;
  const params: ResponseParams = {
    conversation: 'auto',
    outputModalities: s.output_modalities,
    instructions: s.instructions,
    voice: s.audio.output.voice,
    speed: s.audio.output.speed,
    tools: s.tools,
    toolChoice: s.tool_choice,
    maxOutputTokens: s.max_output_tokens,
    temperature: state.temperature,
    metadata: null,
    items: conversation.list(),
  };
  if (raw === undefined) return params;
  const body = expectObject(raw, 'response');
  rejectUnknown(body, shape === 'ga' ? GA_KEYS : BETA_KEYS, 'response');
  const p = (key: string) => `response.${key}`;
  if (body.conversation !== undefined) {
    params.conversation = expectEnum(body.conversation, ['auto', 'none'] as const, p('conversation'));
  }
  if (body.instructions !== undefined)
    params.instructions = expectString(body.instructions, p('instructions'));
  if (body.tools !== undefined) params.tools = parseTools(body.tools, p('tools'));
  if (body.tool_choice !== undefined) params.toolChoice = parseToolChoice(body.tool_choice, p('tool_choice'));
  if (body.metadata !== undefined) params.metadata = parseMetadata(body.metadata, p('metadata'));
  if (body.max_output_tokens !== undefined) {
    params.maxOutputTokens = parseMaxTokens(body.max_output_tokens, p('max_output_tokens'));
  }
  if (shape === 'ga') {
    if (body.output_modalities !== undefined) {
      params.outputModalities = parseGaModalities(body.output_modalities, p('output_modalities'));
    }
    if (body.audio !== undefined) {
      const audio = expectObject(body.audio, p('audio'));
      rejectUnknown(audio, ['output'], p('audio'));
      if (audio.output !== undefined) {
        const output = expectObject(audio.output, p('audio.output'));
        rejectUnknown(output, ['format', 'voice'], p('audio.output'));
        if (output.format !== undefined) parseGaFormat(output.format, p('audio.output.format'));
        if (output.voice !== undefined) params.voice = parseVoice(output.voice, p('audio.output.voice'));
      }
    }
    if (body.prompt !== undefined && body.prompt !== null) {
      expectString(expectObject(body.prompt, p('prompt')).id, p('prompt.id'));
    }
  } else {
    if (body.modalities !== undefined)
      params.outputModalities = parseBetaModalities(body.modalities, p('modalities'));
    if (body.voice !== undefined) params.voice = parseVoice(body.voice, p('voice'));
    if (body.output_audio_format !== undefined) {
      expectEnum(body.output_audio_format, ['pcm16'] as const, p('output_audio_format'));
    }
    if (body.temperature !== undefined) {
      params.temperature = expectNumber(body.temperature, p('temperature'), { min: 0.6, max: 1.2 });
    }
    if (body.max_response_output_tokens !== undefined) {
      params.maxOutputTokens = parseMaxTokens(
        body.max_response_output_tokens,
        p('max_response_output_tokens'),
      );
    }
  }
  if (body.input !== undefined) params.items = parseInput(body.input, shape, conversation);
  return params;
}

/** `input`: fresh items and/or `{type:"item_reference", id}` pointers into the default conversation. */
function parseInput(raw: unknown, shape: RealtimeApiShape, conversation: Conversation): StoredItem[] {
  return expectArray(raw, 'response.input').map((entry, i) => {
    const path = `response.input[${i}]`;
    const obj = expectObject(entry, path);
    if (obj.type !== 'item_reference') return parseItem(obj, shape, path);
    rejectUnknown(obj, ['type', 'id'], path);
    const id = expectString(obj.id, `${path}.id`);
    const item = conversation.get(id);
    if (!item) throw new RequestError('item_not_found', `Item with id '${id}' not found.`, `${path}.id`);
    return item;
  });
}
