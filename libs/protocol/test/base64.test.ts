import { seededRandom } from '@rtv/testing';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import {
  BASE64_CANDIDATES,
  base64DecodedLength,
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
