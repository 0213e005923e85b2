import { createHash } from 'node:crypto';
import { jsonDepthExceeds } from '@rtv/auth';
import { type FrameLimits, parseClientFrame } from '@rtv/protocol';
import { describe, expect, it } from 'vitest';
import {
  createPrng,
  FUZZ_CATEGORIES,
  type FuzzCategory,
  type FuzzFrame,
  type FuzzOutcome,
  fuzzFrames,
  isExpectedOutcome,
  takeFrames,
} from './fuzz-frames.js';

// A small frame limit keeps oversize frames cheap, as it would in a gateway fuzz run.
const LIMITS: FrameLimits = { maxFrameBytes: 65_536, maxAudioBytes: 786_432 };
const OPTIONS = { seed: 0x5eed, ...LIMITS };

/**
 * What validation at the edge does with a frame: the real protocol parser for text frames, the binary
 * audio rule for binary ones (non-empty, even, within the audio limit).
 */
function edgeOutcome(frame: FuzzFrame, limits: FrameLimits): FuzzOutcome {
  if (frame.binary) {
    const n = frame.data.length;
    if (n > 2 * limits.maxFrameBytes) return { kind: 'close', code: 1006 };
    if (n > limits.maxAudioBytes) return { kind: 'error', code: 'message_too_large' };
    return n === 0 || n % 2 === 1 ? { kind: 'error', code: 'invalid_audio' } : { kind: 'accepted' };
  }
  const result = parseClientFrame(frame.data, limits);
  return result.ok ? { kind: 'accepted' } : { kind: 'error', code: result.error.code };
}

/** Everything about a frame in one comparable string (deep-comparing megabytes of frames is slow). */
function digest(f: FuzzFrame): string {
  const hash = createHash('sha256').update(f.data).digest('hex');
  return `${f.index}|${f.category}|${f.note}|${f.binary}|${JSON.stringify(f.expect)}|${hash}`;
}

const byteLength = (f: FuzzFrame) =>
  typeof f.data === 'string' ? Buffer.byteLength(f.data, 'utf8') : f.data.byteLength;

describe('fuzzFrames', () => {
  const frames = takeFrames(9 * 600, OPTIONS);
  const of = (category: FuzzCategory) => frames.filter((f) => f.category === category);

  it('is deterministic for a seed, and different for another seed', () => {
    expect(takeFrames(frames.length, OPTIONS).map(digest)).toEqual(frames.map(digest));
    const other = takeFrames(200, { ...OPTIONS, seed: OPTIONS.seed + 1 }).map(digest);
    const same = other.filter((d, i) => d === digest(frames[i]!));
    expect(same.length).toBeLessThan(20); // only the few frames with no random content can coincide
    // Replaying from an index: the generator is a pure function of seed and position.
    const gen = fuzzFrames(OPTIONS);
    for (let i = 0; i < 100; i++) gen.next();
    expect(digest(gen.next().value)).toBe(digest(frames[100]!));
  });

  it('covers every category in turn', () => {
    expect(frames.slice(0, FUZZ_CATEGORIES.length).map((f) => f.category)).toEqual([...FUZZ_CATEGORIES]);
    for (const category of FUZZ_CATEGORIES) expect(of(category)).toHaveLength(600);
    expect(
      takeFrames(10, { ...OPTIONS, categories: ['deep_nesting'] }).every(
        (f) => f.category === 'deep_nesting',
      ),
    ).toBe(true);
  });

  it('labels every frame with what the real parser actually does with it', () => {
    const wrong = frames
      .map((f) => ({ f, outcome: edgeOutcome(f, LIMITS) }))
      .filter(({ f, outcome }) => !isExpectedOutcome(f, outcome))
      .map(({ f, outcome }) => `#${f.index} ${f.category} (${f.note}): ${JSON.stringify(outcome)}`);
    expect(wrong).toEqual([]);
  });

  it('makes frames the protocol must refuse in the categories that are invalid by construction', () => {
    for (const category of [
      'truncated_json',
      'wrong_types',
      'giant_string',
      'invalid_utf8',
      'deep_nesting',
    ] as const) {
      for (const f of of(category)) {
        expect(f.expect.mayAccept, `${category} #${f.index}`).toBe(false);
        expect(edgeOutcome(f, LIMITS).kind, `${category} #${f.index}`).not.toBe('accepted');
      }
    }
  });

  it('makes each category what its name says', () => {
    for (const f of of('truncated_json')) expect(() => JSON.parse(f.data as string)).toThrow();
    const fatal = new TextDecoder('utf-8', { fatal: true });
    for (const f of of('invalid_utf8')) {
      expect(f.binary).toBe(false);
      expect(() => fatal.decode(f.data as Uint8Array)).toThrow(TypeError);
    }
    for (const f of of('deep_nesting')) expect(jsonDepthExceeds(f.data)).toBe(true);
    for (const f of of('wrong_types')) expect(() => JSON.parse(f.data as string)).not.toThrow();

    const giant = of('giant_string');
    const oversize = giant.filter((f) => f.expect.errors.includes('message_too_large'));
    expect(oversize.length).toBeGreaterThan(0);
    for (const f of oversize) expect(byteLength(f)).toBeGreaterThan(LIMITS.maxFrameBytes);
    const fieldTooLong = giant.filter((f) => f.expect.errors.includes('invalid_message'));
    expect(fieldTooLong.length).toBeGreaterThan(0);
    for (const f of fieldTooLong) expect(byteLength(f)).toBeGreaterThan(64);

    const garbage = of('binary_garbage').map((f) => edgeOutcome(f, LIMITS).kind);
    expect(garbage).toContain('accepted');
    expect(garbage).toContain('error');
    expect(of('binary_garbage').some((f) => !f.binary)).toBe(true);

    // Valid-but-hostile means some really are valid, and the invalid ones are refused for the right reason.
    const hostile = of('hostile_values').map((f) => edgeOutcome(f, LIMITS).kind);
    expect(hostile).toContain('accepted');
    expect(hostile).toContain('error');
    expect(new Set(of('hostile_values').map((f) => f.note)).size).toBeGreaterThanOrEqual(20);

    const mutated = of('mutated_valid').map((f) => edgeOutcome(f, LIMITS).kind);
    expect(mutated).toContain('error');
  });

  it('keeps text frames under the hard cut at twice the frame limit, so each gets a readable answer', () => {
    for (const f of frames) {
      if (f.binary) continue; // oversize audio past the cut is deliberate with this small frame limit
      expect(byteLength(f), `#${f.index} ${f.category}`).toBeLessThanOrEqual(2 * LIMITS.maxFrameBytes);
      if (f.category !== 'invalid_utf8') expect(f.expect.closes, `#${f.index}`).not.toContain(1006);
    }
  });

  it('expects 1009 for oversize binary audio when the frame limit lets it arrive', () => {
    const limits = { maxFrameBytes: 1_048_576, maxAudioBytes: 65_536 };
    const giants = takeFrames(60, { seed: 7, ...limits, categories: ['giant_string'] }).filter(
      (f) => f.binary,
    );
    expect(giants.length).toBeGreaterThan(0);
    for (const f of giants) {
      expect(f.expect).toEqual({ errors: ['message_too_large'], closes: [1009], mayAccept: false });
      expect(isExpectedOutcome(f, edgeOutcome(f, limits))).toBe(true);
    }
  });
});

describe('isExpectedOutcome', () => {
  const frame = takeFrames(3, { ...OPTIONS, categories: ['truncated_json'] })[0]!;

  it('accepts only the listed reactions', () => {
    expect(isExpectedOutcome(frame, { kind: 'error', code: 'invalid_json' })).toBe(true);
    expect(isExpectedOutcome(frame, { kind: 'error', code: 'internal_error' })).toBe(false);
    expect(isExpectedOutcome(frame, { kind: 'accepted' })).toBe(false);
    expect(isExpectedOutcome(frame, { kind: 'close', code: 1011 })).toBe(false);
  });
});

describe('createPrng', () => {
  it('is reproducible and spreads over [0, 1)', () => {
    const a = createPrng(123);
    const b = createPrng(123);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 10_000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });
});
