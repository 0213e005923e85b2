import type { RealtimeFunctionTool, RealtimeTool, RealtimeToolChoice } from '@rtv/protocol/openai-realtime';
import type { StoredItem } from './conversation.js';
import type { Json } from './validate.js';

// The engine's "model": pure functions from the conversation to a reply, so the same input always gives
// the same words (and, through the synthesizer cache, the same audio). Tests can assert exact output.

const GREETING = /^(hi|hello|hey|good (morning|afternoon|evening))\b/i;
const SNIPPET_CHARS = 120;

/** Shortens to whole words within `max` characters. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, '')}...`;
}

/** Reply to user text. */
export function replyToText(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (!clean) return "I'm listening.";
  if (GREETING.test(clean)) return 'Hello! How can I help you today?';
  const snippet = clip(clean, SNIPPET_CHARS);
  const ended = /[.!?]$/.test(snippet) ? snippet : `${snippet}.`;
  return clean.endsWith('?') ? `You asked: ${snippet}` : `You said: ${ended}`;
}

/** Reply to user audio: the engine has no recogniser, so it answers with what it measured. */
export function replyToAudio(durationMs: number): string {
  return `I heard ${(durationMs / 1000).toFixed(1)} seconds of audio.`;
}

/**
 * Stand-in for an input transcript: the engine has no recogniser, so it states what it measured. Honest in
 * a UI, and deterministic for tests.
 */
export function describeAudio(durationMs: number): string {
  return `[${(durationMs / 1000).toFixed(1)} s of speech]`;
}

/** Reply after a tool result. */
export function replyToFunctionOutput(name: string | null, output: string): string {
  return `The ${name ?? 'function'} call returned: ${clip(output.replace(/\s+/g, ' ').trim(), SNIPPET_CHARS)}`;
}

/** The item a response answers: the latest user message or tool result. */
export function lastInput(items: readonly StoredItem[]): StoredItem | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.type === 'function_call_output' || (item.type === 'message' && item.role === 'user'))
      return item;
  }
  return undefined;
}

/** The text of a user message (typed text, else client-supplied audio transcripts), or null for pure audio. */
export function userText(item: StoredItem): string | null {
  if (item.type !== 'message') return null;
  const parts: string[] = [];
  for (const part of item.content) {
    if (part.type === 'input_text') parts.push(part.text);
    else if (part.type === 'input_audio' && part.transcript) parts.push(part.transcript);
  }
  return parts.length ? parts.join(' ') : null;
}

/** The reply text for a conversation (`items` in order, the answered item last or earlier). */
export function composeReply(items: readonly StoredItem[]): string {
  const input = lastInput(items);
  if (!input) return 'Hello! How can I help you today?';
  if (input.type === 'function_call_output') {
    const call = items.find((i) => i.type === 'function_call' && i.call_id === input.call_id);
    return replyToFunctionOutput(call?.type === 'function_call' ? call.name : null, input.output);
  }
  const text = userText(input);
  if (text !== null) return replyToText(text);
  let audioMs = 0;
  if (input.type === 'message') {
    for (const part of input.content) if (part.type === 'input_audio') audioMs += part.audioMs;
  }
  return replyToAudio(audioMs);
}

export interface ToolCallPlan {
  name: string;
  /** JSON-encoded arguments. */
  arguments: string;
}

/**
 * Decides whether the response calls a function: a named or `required` tool choice always does; `auto`
 * does when the user's words mention a tool by name (`get_weather` or "get weather"). Never right after a
 * tool result, so a call/result/answer cycle terminates.
 */
export function planToolCall(
  tools: readonly RealtimeTool[],
  choice: RealtimeToolChoice,
  items: readonly StoredItem[],
): ToolCallPlan | null {
  const input = lastInput(items);
  if (choice === 'none' || input?.type === 'function_call_output') return null;
  const functions = tools.filter((t): t is RealtimeFunctionTool => t.type === 'function');
  const text = (input && userText(input)) ?? '';
  let tool: RealtimeFunctionTool | undefined;
  if (typeof choice === 'object')
    tool = choice.type === 'function' ? functions.find((t) => t.name === choice.name) : undefined;
  else if (choice === 'required') tool = functions[0];
  else {
    const lower = text.toLowerCase();
    tool = functions.find((t) => {
      const name = t.name.toLowerCase();
      return lower.includes(name) || lower.includes(name.replace(/_/g, ' '));
    });
  }
  if (!tool) return null;
  return { name: tool.name, arguments: JSON.stringify(exampleArguments(tool.parameters, text)) };
}

/** Fills each required property of a JSON schema with a deterministic value of the right type. */
function exampleArguments(schema: Json | undefined, text: string): Json {
  const args: Json = {};
  const properties = (schema?.properties ?? {}) as Record<string, Json>;
  const required = Array.isArray(schema?.required) ? (schema.required as string[]) : [];
  for (const key of required) {
    const prop = properties[key] ?? {};
    if (Array.isArray(prop.enum) && prop.enum.length) args[key] = prop.enum[0];
    else if (prop.type === 'number' || prop.type === 'integer') args[key] = 1;
    else if (prop.type === 'boolean') args[key] = true;
    else if (prop.type === 'array') args[key] = [];
    else if (prop.type === 'object') args[key] = exampleArguments(prop, text);
    else args[key] = clip(text, 200);
  }
  return args;
}
