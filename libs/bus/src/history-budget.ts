import type { HistoryItem } from './session-record.js';

/**
 * Byte budgets of a session's conversation history (`keys.sessionHistory(sid)`). The item cap alone let one
 * client put megabytes per session into Redis (200 items of long texts or function results), and the bundled
 * Redis refuses writes when full (`noeviction`): every item is cut to a per-item size here, before it is
 * stored, and the append script drops the oldest items to keep the list under the per-session budget.
 */

/** Stored bytes (UTF-8 JSON) of all history items of one session. */
export const HISTORY_MAX_BYTES = 256 * 1024;

/**
 * Stored bytes (UTF-8 JSON) of one history item. Above the longest typed text (16,384 characters of ASCII), so
 * only long function results, speech transcripts and multi-byte texts are cut.
 */
export const HISTORY_ITEM_MAX_BYTES = 32 * 1024;

/** An item as the append script stores it: its JSON, and whether its text had to be cut to fit. */
export interface FittedHistoryItem {
  json: string;
  truncated: boolean;
}

/**
 * The longest prefix of `text` that takes at most `maxBytes` bytes inside a JSON string as `JSON.stringify`
 * writes it (UTF-8; `"`, `\\` and control characters escaped, a lone surrogate as `\\uXXXX`). Cuts only between
 * code points: a character (a surrogate pair included) is kept whole or left out, never split into bytes that
 * would decode as a replacement character.
 */
export function cutForJson(text: string, maxBytes: number): string {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const unit = text.charCodeAt(i);
    const pair = isHighSurrogate(unit) && isLowSurrogate(text.charCodeAt(i + 1));
    const size = pair ? 4 : jsonBytes(unit);
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += pair ? 2 : 1;
  }
  return text.slice(0, i);
}

/** Bytes of one UTF-16 unit (not half of a pair) inside a JSON string. */
function jsonBytes(unit: number): number {
  if (unit === 0x22 || unit === 0x5c) return 2;
  if (unit < 0x20) return SHORT_ESCAPES.has(unit) ? 2 : 6;
  if (unit < 0x80) return 1;
  if (unit < 0x800) return 2;
  // A lone surrogate is written as a \uXXXX escape.
  return isHighSurrogate(unit) || isLowSurrogate(unit) ? 6 : 3;
}

/** \b \t \n \f \r: the control characters JSON escapes in two bytes. */
const SHORT_ESCAPES: ReadonlySet<number> = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d]);

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** The field of each item kind that carries its (unbounded) text. */
const TEXT_FIELD = { text: 'text', function_call: 'arguments', function_call_output: 'output' } as const;

/**
 * `item` as stored JSON of at most `maxBytes` bytes: when it is larger, its text (`text`, a call's
 * `arguments`, a result's `output`) is cut on a character boundary to what fits beside the other fields, and
 * the item is marked `truncated: true`. Measured as stored, escapes included (a control character takes six).
 */
export function fitHistoryItem(item: HistoryItem, maxBytes: number): FittedHistoryItem {
  const json = JSON.stringify(item);
  if (Buffer.byteLength(json) <= maxBytes) return { json, truncated: false };
  const field = TEXT_FIELD[item.type];
  const text = (item as unknown as Record<string, string>)[field] ?? '';
  const empty = JSON.stringify({ ...item, truncated: true, [field]: '' });
  const cut = cutForJson(text, maxBytes - Buffer.byteLength(empty));
  return { json: JSON.stringify({ ...item, truncated: true, [field]: cut }), truncated: true };
}
