import type { HistoryItem } from '@rtv/bus';
import { restorableHistory } from '../upstream/provider-events.js';
import type { SessionObject } from './session-patch.js';

/** Prefix of the `event_id` of every event the owner sends on its own (restores): their replies are not the client's. */
export const INTERNAL_EVENT_PREFIX = 'rtv_internal_';

/** The `session.update` that puts the kept session back into a fresh provider session (GA needs `type`). */
export function buildRestoreSession(session: SessionObject, n: number): string {
  return JSON.stringify({
    type: 'session.update',
    event_id: `${INTERNAL_EVENT_PREFIX}session_${n}`,
    session: { type: 'realtime', ...session },
  });
}

/**
 * The provider item a history entry restores, under the id the client knows (when it was kept): user words as
 * `input_text` (speech is restored as its transcript), assistant words as `output_text`, function calls and
 * results as they were.
 */
export function providerItemOf(item: HistoryItem): SessionObject {
  const id = item.item_id !== undefined ? { id: item.item_id } : {};
  if (item.type === 'function_call') {
    return {
      ...id,
      type: 'function_call',
      call_id: item.call_id,
      name: item.name,
      arguments: item.arguments,
    };
  }
  if (item.type === 'function_call_output') {
    return { ...id, type: 'function_call_output', call_id: item.call_id, output: item.output };
  }
  const type = item.role === 'user' ? 'input_text' : 'output_text';
  return { ...id, type: 'message', role: item.role, content: [{ type, text: item.text }] };
}

/** The history as `conversation.item.create` events, in order, each tagged as the owner's own. */
export function buildRestoreItems(history: readonly HistoryItem[], n: number): string[] {
  return restorableHistory(history).map((item, i) =>
    JSON.stringify({
      type: 'conversation.item.create',
      event_id: `${INTERNAL_EVENT_PREFIX}item_${n}_${i}`,
      item: providerItemOf(item),
    }),
  );
}

/**
 * The history entry a finished provider item is kept as (undefined: nothing to keep, such as a user audio
 * item, whose transcript comes later, or an empty message).
 */
export function historyItemOf(item: SessionObject, at: number): HistoryItem | undefined {
  const itemId = typeof item.id === 'string' ? { item_id: item.id } : {};
  if (item.type === 'function_call' && typeof item.call_id === 'string') {
    const name = typeof item.name === 'string' ? item.name : 'unknown';
    const args = typeof item.arguments === 'string' ? item.arguments : '';
    return { type: 'function_call', call_id: item.call_id, name, arguments: args, at, ...itemId };
  }
  if (item.type === 'function_call_output' && typeof item.call_id === 'string') {
    const output = typeof item.output === 'string' ? item.output : '';
    return { type: 'function_call_output', call_id: item.call_id, output, at, ...itemId };
  }
  if (item.type !== 'message' || (item.role !== 'user' && item.role !== 'assistant')) return undefined;
  const text = messageText(item.content);
  if (!text.trim()) return undefined;
  return { role: item.role, type: 'text', text, at, ...itemId };
}

/** The words of a message's content parts: texts and audio transcripts, in order. */
function messageText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const part of content as Array<Record<string, unknown>>) {
    if (typeof part?.text === 'string') parts.push(part.text);
    else if (typeof part?.transcript === 'string') parts.push(part.transcript);
  }
  return parts.join('');
}

/** A user message carrying audio: its words arrive later, as an input transcription. */
export function isUserAudioItem(item: SessionObject): boolean {
  if (item.type !== 'message' || item.role !== 'user' || !Array.isArray(item.content)) return false;
  return (item.content as Array<Record<string, unknown>>).some((part) => part?.type === 'input_audio');
}
