import type { RealtimeApiShape } from '@rtv/protocol/openai-realtime';
import { pcmBytes, pcmDurationMs } from './audio.js';
import { RequestError } from './errors.js';
import { newId } from './ids.js';
import {
  expectArray,
  expectEnum,
  expectObject,
  expectString,
  invalidValue,
  type Json,
  missing,
  rejectUnknown,
} from './validate.js';

/** Item content as the engine stores it: GA names, audio kept as PCM with its duration. */
export type StoredContent =
  | { type: 'input_text'; text: string }
  | {
      type: 'input_audio';
      transcript: string | null;
      audioMs: number;
      audio: Buffer | null;
      /** The transcript is the engine's stand-in (`[speech 2.34 s]`), not words the user said. */
      standIn?: boolean;
    }
  | { type: 'input_image'; image_url: string; detail: string }
  | { type: 'output_text'; text: string }
  | { type: 'output_audio'; transcript: string; audioMs: number; audio: Buffer | null };

export type ItemStatus = 'completed' | 'incomplete' | 'in_progress';

export type StoredItem =
  | {
      id: string;
      type: 'message';
      role: 'user' | 'assistant' | 'system';
      status: ItemStatus;
      content: StoredContent[];
    }
  | {
      id: string;
      type: 'function_call';
      status: ItemStatus;
      call_id: string;
      name: string;
      arguments: string;
    }
  | { id: string; type: 'function_call_output'; status: ItemStatus; call_id: string; output: string };

/** Oldest items are forgotten beyond this (the provider truncates context too), bounding memory. */
const MAX_ITEMS = 1024;
/** Audio bytes kept for `conversation.item.retrieve`; older items lose their audio first. 32 MiB ≈ 11 min. */
const MAX_RETAINED_AUDIO_BYTES = 32 * 1024 * 1024;

/**
 * The default conversation: ordered items with `previous_item_id` links, as the provider keeps it.
 */
export class Conversation {
  readonly id = newId('conv');
  private items: StoredItem[] = [];
  private retainedAudioBytes = 0;

  get size(): number {
    return this.items.length;
  }

  get(id: string): StoredItem | undefined {
    return this.items.find((item) => item.id === id);
  }

  lastId(): string | null {
    return this.items.at(-1)?.id ?? null;
  }

  list(): readonly StoredItem[] {
    return this.items;
  }

  /**
   * Inserts after `previousItemId` (`"root"` = first, `null`/absent = append) and returns the id the new item
   * follows. Throws `item_not_found` for an unknown anchor, like the provider.
   */
  insert(item: StoredItem, previousItemId?: string | null): string | null {
    if (this.get(item.id)) {
      throw new RequestError(
        'item_create_duplicate_item_id',
        `The item with id '${item.id}' already exists in the conversation.`,
        'item.id',
      );
    }
    let index = this.items.length;
    if (previousItemId === 'root') index = 0;
    else if (previousItemId !== undefined && previousItemId !== null) {
      const anchor = this.items.findIndex((i) => i.id === previousItemId);
      if (anchor < 0) {
        throw new RequestError(
          'item_not_found',
          `Previous item with id '${previousItemId}' not found.`,
          'previous_item_id',
        );
      }
      index = anchor + 1;
    }
    this.items.splice(index, 0, item);
    this.account(item, 1);
    if (this.items.length > MAX_ITEMS) this.account(this.items.shift()!, -1);
    this.trimAudio();
    return index === 0 ? null : this.items[index - 1]!.id;
  }

  /** The item, or `item_not_found`. */
  require(id: string): StoredItem {
    const item = this.get(id);
    if (!item) throw new RequestError('item_not_found', `Item with item_id not found: ${id}`, 'item_id');
    return item;
  }

  /** `conversation.item.delete`: removes the item or throws `item_not_found`. */
  remove(id: string): void {
    const index = this.items.findIndex((i) => i.id === id);
    if (index < 0) {
      throw new RequestError(
        'item_not_found',
        `Error deleting item: the item with id '${id}' does not exist.`,
        'item_id',
      );
    }
    this.account(this.items[index]!, -1);
    this.items.splice(index, 1);
  }

  /**
   * `conversation.item.truncate`: cuts an assistant audio part to what the user heard and, as the API
   * reference says the provider does, deletes its server-side transcript, so no text the user did not hear
   * stays in the context (`conversation.item.retrieve` then shows `transcript: ""`; openai-agents-js expects
   * this and keeps its own copy). Errors mirror the provider's, including its code-less one for non-audio
   * items.
   */
  truncateAudio(id: string, contentIndex: number, endMs: number): void {
    const item = this.require(id);
    const part =
      item.type === 'message' && item.role === 'assistant' ? item.content[contentIndex] : undefined;
    if (part?.type !== 'output_audio') {
      throw new RequestError(null, 'Only model output audio messages can be truncated');
    }
    if (endMs > part.audioMs) {
      throw new RequestError(
        'invalid_value',
        `Audio content of ${Math.round(part.audioMs)}ms is already shorter than ${endMs}ms`,
        'audio_end_ms',
      );
    }
    part.transcript = '';
    const before = audioBytes(item);
    if (part.audio) part.audio = part.audio.subarray(0, pcmBytes(endMs));
    part.audioMs = endMs;
    this.updated(before, item);
  }

  /** Re-count retained audio after an item's content changed in place (streaming output, truncation). */
  updated(before: number, item: StoredItem): void {
    this.retainedAudioBytes += audioBytes(item) - before;
    this.trimAudio();
  }

  private account(item: StoredItem, sign: 1 | -1): void {
    this.retainedAudioBytes += sign * audioBytes(item);
  }

  /** Frees audio from the oldest items first until the retained total fits the bound again. */
  private trimAudio(): void {
    for (const item of this.items) {
      if (this.retainedAudioBytes <= MAX_RETAINED_AUDIO_BYTES) return;
      if (item.type !== 'message') continue;
      for (const part of item.content) {
        if ((part.type === 'input_audio' || part.type === 'output_audio') && part.audio) {
          this.retainedAudioBytes -= part.audio.length;
          part.audio = null;
        }
      }
    }
  }
}

export function audioBytes(item: StoredItem): number {
  if (item.type !== 'message') return 0;
  let total = 0;
  for (const part of item.content) {
    if ((part.type === 'input_audio' || part.type === 'output_audio') && part.audio)
      total += part.audio.length;
  }
  return total;
}

/** Wire form of an item. GA omits `object` and uses `output_*` content names; beta adds `object` and `text`/`audio`. */
export function renderItem(item: StoredItem, shape: RealtimeApiShape, withAudio = false): Json {
  const base: Json = shape === 'beta' ? { id: item.id, object: 'realtime.item' } : { id: item.id };
  if (item.type === 'function_call') {
    return {
      ...base,
      type: item.type,
      status: item.status,
      call_id: item.call_id,
      name: item.name,
      arguments: item.arguments,
    };
  }
  if (item.type === 'function_call_output') {
    return { ...base, type: item.type, status: item.status, call_id: item.call_id, output: item.output };
  }
  const content = item.content.map((part) => renderContent(part, shape, withAudio));
  return { ...base, type: 'message', status: item.status, role: item.role, content };
}

function renderContent(part: StoredContent, shape: RealtimeApiShape, withAudio: boolean): Json {
  const beta = shape === 'beta';
  switch (part.type) {
    case 'input_text':
      return { type: 'input_text', text: part.text };
    case 'input_image':
      return { type: 'input_image', image_url: part.image_url, detail: part.detail };
    case 'output_text':
      return { type: beta ? 'text' : 'output_text', text: part.text };
    case 'input_audio':
    case 'output_audio': {
      const type = part.type === 'output_audio' && beta ? 'audio' : part.type;
      const rendered: Json = { type, transcript: part.transcript };
      if (withAudio && part.audio) rendered.audio = part.audio.toString('base64');
      return rendered;
    }
  }
}

const ITEM_KEYS = [
  'id',
  'object',
  'type',
  'status',
  'role',
  'content',
  'call_id',
  'name',
  'arguments',
  'output',
];

/**
 * Parses the `item` of `conversation.item.create` (or one entry of `response.create` `input`, `path` says
 * which) into a stored item, with a fresh id when none is given.
 */
export function parseItem(raw: unknown, shape: RealtimeApiShape, path = 'item'): StoredItem {
  const item = expectObject(raw, path);
  rejectUnknown(item, ITEM_KEYS, path);
  const id = item.id === undefined ? newId('item') : expectString(item.id, `${path}.id`, 32);
  if (item.object !== undefined) expectEnum(item.object, ['realtime.item'] as const, `${path}.object`);
  if (item.type === undefined) throw missing(`${path}.type`);
  const type = expectEnum(
    item.type,
    ['message', 'function_call', 'function_call_output'] as const,
    `${path}.type`,
  );
  if (item.status !== undefined) {
    expectEnum(item.status, ['completed', 'incomplete', 'in_progress'] as const, `${path}.status`);
  }
  const field = (key: string): string => {
    if (item[key] === undefined) throw missing(`${path}.${key}`);
    return expectString(item[key], `${path}.${key}`);
  };
  if (type === 'function_call') {
    return {
      id,
      type,
      status: 'completed',
      call_id: field('call_id'),
      name: field('name'),
      arguments: field('arguments'),
    };
  }
  if (type === 'function_call_output') {
    return { id, type, status: 'completed', call_id: field('call_id'), output: field('output') };
  }
  if (item.role === undefined) throw missing(`${path}.role`);
  const role = expectEnum(item.role, ['user', 'assistant', 'system'] as const, `${path}.role`);
  if (item.content === undefined) throw missing(`${path}.content`);
  const content = expectArray(item.content, `${path}.content`).map((p, i) =>
    parseContent(p, role, shape, `${path}.content[${i}]`),
  );
  return { id, type, role, status: 'completed', content };
}

/**
 * Content parts by role: users send text, audio and images; system messages text only; assistant text uses
 * the shape's name (`output_text` GA, `text` beta). Clients can never create assistant audio.
 */
function parseContent(
  raw: unknown,
  role: 'user' | 'assistant' | 'system',
  shape: RealtimeApiShape,
  param: string,
): StoredContent {
  const part = expectObject(raw, param);
  const assistantText = shape === 'beta' ? 'text' : 'output_text';
  const allowed =
    role === 'user'
      ? ['input_text', 'input_audio', 'input_image']
      : role === 'system'
        ? ['input_text']
        : [assistantText];
  if (role === 'assistant' && (part.type === 'output_audio' || part.type === 'audio')) {
    throw new RequestError(
      'invalid_value',
      'Assistant audio content cannot be created by the client.',
      `${param}.type`,
    );
  }
  const type = expectEnum(part.type, allowed, `${param}.type`);
  switch (type) {
    case 'input_text':
      rejectUnknown(part, ['type', 'text'], param);
      return { type, text: expectString(part.text, `${param}.text`) };
    case 'input_image':
      rejectUnknown(part, ['type', 'image_url', 'detail'], param);
      return {
        type,
        image_url: expectString(part.image_url, `${param}.image_url`),
        detail:
          part.detail === undefined
            ? 'auto'
            : expectEnum(part.detail, ['auto', 'low', 'high'] as const, `${param}.detail`),
      };
    case 'input_audio': {
      rejectUnknown(part, ['type', 'audio', 'transcript'], param);
      const audio =
        part.audio === undefined ? null : Buffer.from(expectString(part.audio, `${param}.audio`), 'base64');
      const transcript =
        part.transcript === undefined || part.transcript === null
          ? null
          : expectString(part.transcript, `${param}.transcript`);
      if (!audio && transcript === null) throw missing(`${param}.audio`);
      return { type, transcript, audio, audioMs: audio ? pcmDurationMs(audio.length) : 0 };
    }
    default:
      rejectUnknown(part, ['type', 'text'], param);
      if (type !== assistantText) throw invalidValue(type, `${param}.type`, allowed);
      return { type: 'output_text', text: expectString(part.text, `${param}.text`) };
  }
}
