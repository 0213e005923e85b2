// The per-item budget of the conversation history: texts are cut on a character boundary, the stored JSON
// (escapes included) fits, and the item is marked.
import { cutForJson, fitHistoryItem, type HistoryItem } from '@rtv/bus';
import { describe, expect, it } from 'vitest';

const bytes = (s: string) => Buffer.byteLength(s);

/** Bytes of `s` inside a JSON string as stored (without the quotes). */
const jsonBytes = (s: string) => bytes(JSON.stringify(s)) - 2;

describe('cutForJson', () => {
  it('keeps a text that fits and cuts a longer one to at most the budget', () => {
    expect(cutForJson('hello', 5)).toBe('hello');
    expect(cutForJson('hello', 4)).toBe('hell');
    expect(cutForJson('hello', 0)).toBe('');
    expect(cutForJson('hello', -3)).toBe('');
  });

  it('never splits a multi-byte character or a surrogate pair', () => {
    // é is 2 bytes, € 3, 😀 4 (a surrogate pair in UTF-16).
    expect(cutForJson('éé', 3)).toBe('é');
    expect(cutForJson('a€', 3)).toBe('a');
    expect(cutForJson('😀😀', 7)).toBe('😀');
    expect(cutForJson('😀😀', 3)).toBe('');
    for (let max = 0; max < 40; max++) {
      const cut = cutForJson('aé€😀'.repeat(4), max);
      expect(bytes(cut)).toBeLessThanOrEqual(max);
      // Round-trips through UTF-8 unchanged: no half character became U+FFFD.
      expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut);
      expect(cut.includes('\uFFFD')).toBe(false);
    }
  });

  it('counts escapes as JSON.stringify writes them, and takes the longest prefix that fits', () => {
    const alphabet = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', '\ud800', '\udc00', '\u007f'];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let round = 0; round < 300; round++) {
      const text = Array.from({ length: 1 + (next() % 30) }, () => alphabet[next() % alphabet.length]).join(
        '',
      );
      const max = next() % 80;
      const cut = cutForJson(text, max);
      expect(text.startsWith(cut)).toBe(true);
      expect(jsonBytes(cut)).toBeLessThanOrEqual(max);
      if (cut.length < text.length) {
        // One more code point would not fit.
        const more = text.slice(0, cut.length + (text.codePointAt(cut.length)! > 0xffff ? 2 : 1));
        expect(jsonBytes(more)).toBeGreaterThan(max);
      }
    }
  });
});

describe('fitHistoryItem', () => {
  it('stores a small item unchanged and unmarked', () => {
    const item: HistoryItem = { role: 'user', type: 'text', text: 'hi', at: 1, seq: 4 };
    expect(fitHistoryItem(item, 1024)).toEqual({ json: JSON.stringify(item), truncated: false });
  });

  it('cuts the text of each item kind so the stored JSON fits, and marks it', () => {
    const long = 'x'.repeat(5000);
    const items: HistoryItem[] = [
      { role: 'assistant', type: 'text', text: long, at: 1 },
      { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: long, at: 2 },
      { type: 'function_call_output', call_id: 'c1', output: long, at: 3 },
    ];
    for (const item of items) {
      const { json, truncated } = fitHistoryItem(item, 1024);
      expect(truncated).toBe(true);
      expect(bytes(json)).toBeLessThanOrEqual(1024);
      // Close to the budget: only the text was cut, not everything.
      expect(bytes(json)).toBeGreaterThan(1000);
      const stored = JSON.parse(json) as Record<string, unknown>;
      expect(stored.truncated).toBe(true);
      expect(stored.at).toBe(item.at);
      expect(stored.type).toBe(item.type);
    }
  });

  it('counts escapes as stored: a text of control characters and quotes still fits', () => {
    const item: HistoryItem = { role: 'user', type: 'text', text: '\u0001"\n'.repeat(3000), at: 1 };
    const { json, truncated } = fitHistoryItem(item, 2048);
    expect(truncated).toBe(true);
    expect(bytes(json)).toBeLessThanOrEqual(2048);
    const text = (JSON.parse(json) as { text: string }).text;
    expect(item.text.startsWith(text)).toBe(true);
    expect(text.length).toBeGreaterThan(100);
  });

  it('cuts multi-byte text on a character boundary', () => {
    const item: HistoryItem = { role: 'user', type: 'text', text: '😀'.repeat(8000), at: 1, seq: 9 };
    const { json } = fitHistoryItem(item, 4096);
    const stored = JSON.parse(json) as { text: string; seq: number };
    expect(bytes(json)).toBeLessThanOrEqual(4096);
    expect(stored.text).toBe('😀'.repeat(stored.text.length / 2));
    expect(stored.seq).toBe(9);
  });
});
