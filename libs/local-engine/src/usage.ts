import type {
  RealtimeApiShape,
  RealtimeRateLimit,
  RealtimeTool,
  RealtimeUsage,
} from '@rtv/protocol/openai-realtime';
import type { StoredItem } from './conversation.js';

// Deterministic token accounting with the provider's rough rates: ~4 characters per text token, one token
// per 100 ms of user audio and per 50 ms of assistant audio, prompt caching in 64-token blocks.

export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
export function inputAudioTokens(ms: number): number {
  return Math.ceil(ms / 100);
}
export function outputAudioTokens(ms: number): number {
  return Math.ceil(ms / 50);
}

const ITEM_OVERHEAD = 4;
const IMAGE_TOKENS = 85;
const CACHE_BLOCK = 64;

export interface TokenCount {
  text: number;
  audio: number;
  image: number;
}

/** All input tokens of a count. */
export function total(count: TokenCount): number {
  return count.text + count.audio + count.image;
}

/** Prompt size of a response: instructions, tool definitions and the conversation it sees. */
export function countInput(
  instructions: string,
  tools: readonly RealtimeTool[],
  items: readonly StoredItem[],
): TokenCount {
  const count: TokenCount = { text: textTokens(instructions), audio: 0, image: 0 };
  if (tools.length) count.text += textTokens(JSON.stringify(tools));
  for (const item of items) {
    count.text += ITEM_OVERHEAD;
    if (item.type === 'function_call') count.text += textTokens(item.name + item.arguments);
    else if (item.type === 'function_call_output') count.text += textTokens(item.output);
    else {
      for (const part of item.content) {
        if (part.type === 'input_text' || part.type === 'output_text') count.text += textTokens(part.text);
        else if (part.type === 'input_audio') count.audio += inputAudioTokens(part.audioMs);
        else if (part.type === 'output_audio') count.audio += outputAudioTokens(part.audioMs);
        else count.image += IMAGE_TOKENS;
      }
    }
  }
  return count;
}

/**
 * Full GA usage object. `cachedPrefix` is how much of this prompt the previous response already sent (its
 * whole input): that much, rounded down to 64-token blocks, counts as cached, text first.
 */
export function buildUsage(
  input: TokenCount,
  cachedPrefix: number,
  output: { text: number; audio: number },
): RealtimeUsage {
  const inputTotal = total(input);
  const cached = Math.floor(Math.min(cachedPrefix, inputTotal) / CACHE_BLOCK) * CACHE_BLOCK;
  const cachedText = Math.min(cached, input.text);
  const cachedAudio = Math.min(cached - cachedText, input.audio);
  const outputTotal = output.text + output.audio;
  return {
    total_tokens: inputTotal + outputTotal,
    input_tokens: inputTotal,
    output_tokens: outputTotal,
    input_token_details: {
      text_tokens: input.text,
      audio_tokens: input.audio,
      image_tokens: input.image,
      cached_tokens: cached,
      cached_tokens_details: {
        text_tokens: cachedText,
        audio_tokens: cachedAudio,
        image_tokens: cached - cachedText - cachedAudio,
      },
    },
    output_token_details: { text_tokens: output.text, audio_tokens: output.audio },
  };
}

/** Beta usage carried fewer detail fields. */
export function betaUsage(usage: RealtimeUsage): RealtimeUsage {
  const d = usage.input_token_details;
  return {
    ...usage,
    input_token_details: {
      cached_tokens: d.cached_tokens,
      text_tokens: d.text_tokens,
      audio_tokens: d.audio_tokens,
    },
  };
}

/** Usage of an input transcription: whisper bills by duration, the gpt-4o transcribers by tokens. */
export function transcriptionUsage(
  model: string,
  audioMs: number,
  transcript: string,
): Record<string, unknown> {
  if (model === 'whisper-1') return { type: 'duration', seconds: Math.round(audioMs / 100) / 10 };
  const audio = inputAudioTokens(audioMs);
  const output = textTokens(transcript);
  return {
    type: 'tokens',
    total_tokens: audio + output,
    input_tokens: audio,
    input_token_details: { text_tokens: 0, audio_tokens: audio },
    output_tokens: output,
  };
}

const TOKEN_LIMIT = 15_000_000;
const REQUEST_LIMIT = 20_000;

/** `rate_limits.updated` payload: GA sends only a tokens entry; beta also sent requests. */
export function rateLimits(shape: RealtimeApiShape, usage: RealtimeUsage): RealtimeRateLimit[] {
  const tokens: RealtimeRateLimit = {
    name: 'tokens',
    limit: TOKEN_LIMIT,
    remaining: TOKEN_LIMIT - usage.total_tokens,
    reset_seconds: 0.001,
  };
  if (shape === 'ga') return [tokens];
  return [
    { name: 'requests', limit: REQUEST_LIMIT, remaining: REQUEST_LIMIT - 1, reset_seconds: 0.003 },
    tokens,
  ];
}
