import { parseClientFrame } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_JSON_DEPTH, jsonDepthExceeds, valueDepthExceeds } from '../src/index.js';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const bytes = (s: string) => new TextEncoder().encode(s);

describe('jsonDepthExceeds', () => {
  it('counts arrays and objects, in text and in UTF-8 bytes', () => {
    for (const input of [nested(3), '{"a":{"b":[1]}}']) {
      expect(jsonDepthExceeds(input, 3)).toBe(false);
      expect(jsonDepthExceeds(input, 2)).toBe(true);
      expect(jsonDepthExceeds(bytes(input), 3)).toBe(false);
      expect(jsonDepthExceeds(bytes(input), 2)).toBe(true);
    }
    expect(jsonDepthExceeds('42', 0)).toBe(false);
    expect(jsonDepthExceeds('[]', 0)).toBe(true);
  });

  it('measures depth, not the number of brackets', () => {
    const wide = `[${Array.from({ length: 10_000 }, () => '[1]').join(',')}]`;
    expect(jsonDepthExceeds(wide, 2)).toBe(false);
    expect(jsonDepthExceeds(bytes(wide), 2)).toBe(false);
  });

  it('ignores brackets inside strings, including after escaped quotes and backslashes', () => {
    const tricky = JSON.stringify({ a: '[[[[{{{{', b: 'say \\"[[[[\\" ok', c: 'ends with \\', d: ['é[[["'] });
    expect(JSON.parse(tricky)).toBeTruthy();
    expect(jsonDepthExceeds(tricky, 2)).toBe(false);
    expect(jsonDepthExceeds(bytes(tricky), 2)).toBe(false);
    expect(jsonDepthExceeds(`${tricky.slice(0, -1)},"e":[[[]]]}`, 2)).toBe(true);
  });

  it('catches the frame the parser lets through to its schemas', () => {
    const frame = `{"type":"session.update","session_update":{"instructions":${nested(200_000)}}}`;
    expect(parseClientFrame(frame).ok).toBe(false); // refused, but only after building 200,000 arrays
    expect(jsonDepthExceeds(frame)).toBe(true);
    expect(jsonDepthExceeds(bytes(frame))).toBe(true);
  });

  it('passes every valid client message with room to spare', () => {
    const deepest = JSON.stringify({
      type: 'session.update',
      session_update: {
        turn_detection: { type: 'server_vad', threshold: 0.5 },
        modalities: ['audio', 'text'],
      },
    });
    expect(parseClientFrame(deepest).ok).toBe(true);
    expect(jsonDepthExceeds(deepest, 3)).toBe(false);
    expect(DEFAULT_MAX_JSON_DEPTH).toBeGreaterThan(3);
  });

  it('stops at an unterminated string instead of misreading what follows', () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[', 2)).toBe(false);
    expect(jsonDepthExceeds(bytes('{"a":"[[[[[['), 2)).toBe(false);
  });
});

describe('valueDepthExceeds', () => {
  it('agrees with the text scan on parsed values', () => {
    for (const text of [nested(5), '{"a":[{"b":{}}]}', '"x"', 'null', '[1,[2,[3]]]']) {
      for (const max of [0, 1, 2, 3, 4, 5, 6]) {
        expect(valueDepthExceeds(JSON.parse(text), max)).toBe(jsonDepthExceeds(text, max));
      }
    }
  });

  it('does not overflow the stack on a value too deep for recursion', () => {
    const deep = JSON.parse(nested(500_000));
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(valueDepthExceeds(deep)).toBe(true);
  });
});
