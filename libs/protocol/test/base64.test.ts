import { seededRandom } from '@rtv/testing';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import {
  BASE64_CANDIDATES,
  base64DecodedLength,
  base64RunEnd,
  describeBase64Problem,
  isStandardBase64,
} from '../src/base64.js';
import { ClientConversationItemInput, parseClientFrame } from '../src/index.js';
import { audioFrame } from './helpers.js';

// An independent statement of the rule, for cross-checking the implementations.
function reference(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function corpus(): string[] {
  const random = seededRandom(20_240_601);
  const chars = 'AZaz09+/=-_ \n\té\u0000';
  const out = [
    '',
    'A',
    'AA',
    'AAA',
    'AAAA',
    'AA==',
    'AAA=',
    'A===',
    '====',
    'AA=A',
    '=AAA',
    'AAAA====',
    'AB+/',
    'ab-_',
  ];
  for (let i = 0; i < 5000; i++) {
    const length = Math.floor(random() * 24);
    let s = '';
    for (let j = 0; j < length; j++) s += chars[Math.floor(random() * chars.length)];
    out.push(s);
  }
  // Real encodings of random bytes, then single-character mutations of them.
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.alloc(Math.floor(random() * 40));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    const valid = bytes.toString('base64');
    out.push(valid);
    if (valid.length > 0) {
      const at = Math.floor(random() * valid.length);
      out.push(valid.slice(0, at) + chars[Math.floor(random() * chars.length)] + valid.slice(at + 1));
    }
  }
  return out;
}

describe('base64 validation', () => {
  const inputs = corpus();

  it('every candidate implementation agrees with the reference rule on a fuzz corpus', () => {
    let valid = 0;
    for (const s of inputs) {
      const expected = reference(s);
      if (expected) valid++;
      for (const [name, check] of Object.entries(BASE64_CANDIDATES)) {
        if (check(s) !== expected) throw new Error(`${name}(${JSON.stringify(s)}) should be ${expected}`);
      }
    }
    // The corpus exercises both outcomes in quantity.
    expect(valid).toBeGreaterThan(2000);
    expect(inputs.length - valid).toBeGreaterThan(2000);
  });

  it('computes the decoded length from length and padding, matching a real decoder', () => {
    for (const s of inputs.filter(isStandardBase64)) {
      expect(base64DecodedLength(s)).toBe(Buffer.from(s, 'base64').length);
    }
  });

  it('says what is wrong', () => {
    expect(describeBase64Problem('AAAA AAA')).toContain('without whitespace');
    expect(describeBase64Problem('AAA-')).toContain('not base64url');
    expect(describeBase64Problem('AA*A')).toContain('invalid character at index 2');
    expect(describeBase64Problem('AAAAAA')).toContain('length a multiple of 4');
    expect(describeBase64Problem('AA=AAAAA')).toContain('may only end the string');
  });

  it('the published schema pattern and the hot path accept exactly the same audio strings', () => {
    const published = TypeCompiler.Compile(ClientConversationItemInput);
    for (const audio of inputs) {
      const message = {
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_audio_buffer', audio },
      };
      const hotPath = parseClientFrame(audioFrame(audio), { maxAudioBytes: Number.POSITIVE_INFINITY });
      // The hot path also requires whole PCM16 samples, which JSON Schema cannot express.
      const wholeSamples = !isStandardBase64(audio) || base64DecodedLength(audio) % 2 === 0;
      expect(published.Check(message) && wholeSamples).toBe(hotPath.ok);
    }
  });
});

describe('base64RunEnd', () => {
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  /** The plain byte loop it must agree with. */
  const reference = (bytes: Uint8Array, from: number, to: number): number => {
    let i = from;
    while (i < to && ALPHABET.includes(String.fromCharCode(bytes[i]!))) i++;
    return i;
  };

  it('finds the first byte outside the alphabet at any position, offset and alignment', () => {
    const random = seededRandom(19);
    const backing = new Uint8Array(2048 + 8);
    for (let round = 0; round < 400; round++) {
      // A view at an arbitrary byte offset, as a slice of a socket read or a bus line would be.
      const offset = Math.floor(random() * 8);
      const length = 1 + Math.floor(random() * 2048);
      const bytes = backing.subarray(offset, offset + length);
      for (let i = 0; i < length; i++) bytes[i] = ALPHABET.charCodeAt(Math.floor(random() * 64));
      if (round % 4 !== 0) {
        const bad = [0x3d, 0x22, 0x5c, 0x0a, 0x2d, 0x5f, 0x00, 0xff, 0x20][round % 9]!;
        bytes[Math.floor(random() * length)] = bad;
      }
      const from = Math.floor(random() * Math.min(length, 16));
      const to = length - Math.floor(random() * Math.min(length - from, 16));
      expect(base64RunEnd(bytes, from, to)).toBe(reference(bytes, from, to));
    }
  });

  it('reads words in both halves: a bad byte in each lane of a word is found', () => {
    const bytes = new Uint8Array(256).fill(0x41);
    for (let lane = 0; lane < 4; lane++) {
      const copy = bytes.slice();
      copy[128 + lane] = 0x2e;
      expect(base64RunEnd(copy, 0, copy.length)).toBe(128 + lane);
    }
    expect(base64RunEnd(bytes, 0, bytes.length)).toBe(256);
    expect(base64RunEnd(bytes, 10, 10)).toBe(10);
  });
});
