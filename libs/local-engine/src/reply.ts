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
 * Stand-in for an input transcript: the engine has no recogniser, so it states how much audio the committed
 * item held, to 10 ms: `[speech 2.34 s]`. Honest in a UI, deterministic, and parseable with
 * {@link parseSpeechTranscript} so a test can learn how much audio the engine heard.
 */
export function describeAudio(durationMs: number): string {
  return `[speech ${(Math.round(durationMs / 10) / 100).toFixed(2)} s]`;
}

const SPEECH_TRANSCRIPT = /^\[speech (\d+\.\d{2}) s\]$/;

/** The milliseconds a stand-in transcript (`[speech 2.34 s]`) reports, or null for any other text. */
export function parseSpeechTranscript(transcript: string): number | null {
  const match = SPEECH_TRANSCRIPT.exec(transcript.trim());
  return match ? Math.round(Number(match[1]) * 1000) : null;
}

/** Longest tool output quoted back in the follow-up answer. */
const OUTPUT_CHARS = 1000;

/**
 * Reply after a tool result: quotes the output (whitespace runs collapsed, at most 1000 characters), e.g.
 * `The get_weather call returned: {"temp_c":21}`, so a test can check the answer used it.
 */
export function replyToFunctionOutput(name: string | null, output: string): string {
  return `The ${name ?? 'function'} call returned: ${clip(output.replace(/\s+/g, ' ').trim(), OUTPUT_CHARS)}`;
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

/**
 * The text of a user message (typed text, else client-supplied audio transcripts), or null for pure audio.
 * The engine's own stand-in transcripts do not count: those turns are answered as audio.
 */
export function userText(item: StoredItem): string | null {
  if (item.type !== 'message') return null;
  const parts: string[] = [];
  for (const part of item.content) {
    if (part.type === 'input_text') parts.push(part.text);
    else if (part.type === 'input_audio' && part.transcript && !part.standIn) parts.push(part.transcript);
  }
  return parts.length ? parts.join(' ') : null;
}

/** A question about the conversation itself: answered from the earlier user messages, so memory shows. */
const MEMORY_QUESTION = /\bwhat (did|have) i (just )?(say|said|tell|told)\b/i;

/**
 * The answer to {@link MEMORY_QUESTION}: the user's message before `question` (text, or the transcript of real
 * speech), quoted: `Earlier you said: "My name is Ada."`. Shows that a conversation kept its context, across a
 * reconnect or a restore into a new session.
 */
function recall(items: readonly StoredItem[], question: StoredItem): string {
  const before = items.slice(0, items.indexOf(question));
  for (let i = before.length - 1; i >= 0; i--) {
    const item = before[i]!;
    const said = item.type === 'message' && item.role === 'user' ? userText(item) : null;
    if (said?.trim()) return `Earlier you said: "${clip(said.trim(), SNIPPET_CHARS)}"`;
  }
  return 'You have not said anything before this.';
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
  if (text !== null) return MEMORY_QUESTION.test(text) ? recall(items, input) : replyToText(text);
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
 * Decides whether the response calls a function. The stand-in's rule, deterministic and documented:
 *
 * - `tool_choice: "none"` never calls, and neither does a response right after a `function_call_output`
 *   (it answers with the output instead), so a call → result → answer cycle always ends.
 * - The user's latest message *names* a tool when it contains a configured function tool's exact `name` as a
 *   whole token (case-sensitive; `get_weather`, not "get weather"); the first such tool in `tools` order.
 * - `"auto"` calls the named tool, if any; `"required"` calls the named tool, else the first function tool;
 *   `{type: "function", name}` calls that tool (when it is configured).
 * - Arguments fill every property of the tool's `parameters.properties`: strings get the words after the
 *   tool's name in the message (trailing `.`/`?`/`!` dropped; the whole message when the name is absent),
 *   enums their first value, numbers 1, booleans true, arrays `[]`, objects recursively; no properties: `{}`.
 */
export function planToolCall(
  tools: readonly RealtimeTool[],
  choice: RealtimeToolChoice,
  items: readonly StoredItem[],
): ToolCallPlan | null {
  const input = lastInput(items);
  if (choice === 'none' || input?.type === 'function_call_output') return null;
  const functions = tools.filter((t): t is RealtimeFunctionTool => t.type === 'function');
  const text = ((input && userText(input)) ?? '').replace(/\s+/g, ' ').trim();
  const named = functions.find((t) => nameIndex(text, t.name) >= 0);
  let tool: RealtimeFunctionTool | undefined;
  if (typeof choice === 'object') {
    tool = choice.type === 'function' ? functions.find((t) => t.name === choice.name) : undefined;
  } else if (choice === 'required') tool = named ?? functions[0];
  else tool = named;
  if (!tool) return null;
  const at = nameIndex(text, tool.name);
  const argText = at < 0 ? text : text.slice(at + tool.name.length).trim();
  const args = fillArguments(tool.parameters, clip(argText.replace(/[.?!]+$/, ''), 200));
  return { name: tool.name, arguments: JSON.stringify(args) };
}

const NAME_CHAR = /[A-Za-z0-9_-]/;

/** Index of `name` in `text` as a whole token (not part of a longer identifier), or -1. */
function nameIndex(text: string, name: string): number {
  if (!name) return -1;
  for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
    const before = i > 0 ? text[i - 1]! : '';
    const after = text[i + name.length] ?? '';
    if (!NAME_CHAR.test(before) && !NAME_CHAR.test(after)) return i;
  }
  return -1;
}

/** Fills every property of a JSON schema with a deterministic value of its type (strings get `text`). */
function fillArguments(schema: Json | undefined, text: string): Json {
  const args: Json = {};
  const properties = schema?.properties;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return args;
  for (const [key, raw] of Object.entries(properties as Record<string, unknown>)) {
    const prop = (typeof raw === 'object' && raw !== null ? raw : {}) as Json;
    const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== 'null') : prop.type;
    if (Array.isArray(prop.enum) && prop.enum.length) args[key] = prop.enum[0];
    else if (type === 'number' || type === 'integer') args[key] = 1;
    else if (type === 'boolean') args[key] = true;
    else if (type === 'array') args[key] = [];
    else if (type === 'object') args[key] = fillArguments(prop, text);
    else args[key] = text;
  }
  return args;
}
