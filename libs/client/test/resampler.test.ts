import { describe, expect, it } from 'vitest';
import { Resampler } from '../src/audio/resampler.js';
import { concat, fitSine, inBlocks, rms, sine } from './signal.js';

describe('Resampler', () => {
  it.each([
    [48_000, 440],
    [48_000, 1000],
    [48_000, 3500],
    [44_100, 440],
    [44_100, 2000],
    [16_000, 300],
    [32_000, 5000],
  ])('keeps a sine a sine from %i Hz to 24 kHz (%i Hz tone)', (rate, hz) => {
    const resampler = new Resampler(rate, 24_000);
    // Streamed in 128-frame render quanta, as the capture worklet feeds it.
    const out = inBlocks(sine(rate, hz, 0.5, 1), (block) => resampler.process(block));
    const fit = fitSine(out, 24_000, hz);
    expect(Math.abs(fit.frequency - hz) / hz).toBeLessThan(0.001);
    expect(fit.amplitude).toBeGreaterThan(0.5 * 0.99);
    expect(fit.amplitude).toBeLessThan(0.5 * 1.01);
    // Everything that is not the sine (distortion, aliasing, noise) stays below -50 dB.
    expect(fit.residual).toBeLessThan(0.003);
    // One second in, one second out, less the filter's look-ahead.
    expect(24_000 - out.length).toBeGreaterThanOrEqual(0);
    expect(24_000 - out.length).toBeLessThan(40);
  });

  it.each([44_100, 48_000])('upsamples 24 kHz reply audio to %i Hz without changing the tone', (rate) => {
    const resampler = new Resampler(24_000, rate);
    const out = inBlocks(sine(24_000, 750, 0.8, 1), (block) => resampler.process(block), 960);
    const fit = fitSine(out, rate, 750);
    expect(Math.abs(fit.frequency - 750) / 750).toBeLessThan(0.001);
    expect(Math.abs(fit.amplitude - 0.8) / 0.8).toBeLessThan(0.01);
    expect(fit.residual).toBeLessThan(0.003);
  });

  it('filters out what would alias: a 15 kHz tone does not fold back to 9 kHz', () => {
    const resampler = new Resampler(48_000, 24_000);
    const out = resampler.process(sine(48_000, 15_000, 0.5, 0.5));
    // Plain decimation would leave a 9 kHz tone of the same amplitude (rms 0.35); the filter removes it.
    expect(rms(out, 200, out.length - 200)).toBeLessThan(0.35 * 0.01);
    const naive = new Float32Array(out.length);
    const input = sine(48_000, 15_000, 0.5, 0.5);
    for (let i = 0; i < naive.length; i++) naive[i] = input[i * 2]!;
    expect(fitSine(naive, 24_000, 9000).amplitude).toBeGreaterThan(0.49);
  });

  it('gives the same output whatever the block sizes', () => {
    const input = sine(44_100, 1234, 0.7, 0.3);
    const whole = new Resampler(44_100, 24_000).process(input);
    const streamed = new Resampler(44_100, 24_000);
    const parts: Float32Array[] = [];
    let offset = 0;
    for (const size of [1, 7, 128, 3, 500, 64, 2048]) {
      parts.push(streamed.process(input.subarray(offset, offset + size)));
      offset += size;
    }
    parts.push(streamed.process(input.subarray(offset)));
    const joined = concat(parts);
    expect(joined.length).toBe(whole.length);
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i]! - joined[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('flushes the look-ahead at the end of a stream and starts clean after it', () => {
    const resampler = new Resampler(48_000, 24_000);
    const body = resampler.process(sine(48_000, 500, 0.5, 0.1));
    const tail = resampler.flush();
    // 0.1 s at 24 kHz is 2400 samples: the flush delivers the ones held back.
    expect(body.length).toBeLessThan(2400);
    expect(body.length + tail.length).toBeGreaterThanOrEqual(2400);
    // After flush, silence in is silence out: nothing of the old stream leaks into the next one.
    const next = resampler.process(new Float32Array(4800));
    expect(rms(next)).toBe(0);
  });

  it('passes audio through unchanged when the rates match', () => {
    const input = sine(24_000, 440, 0.5, 0.01);
    expect(Array.from(new Resampler(24_000, 24_000).process(input))).toEqual(Array.from(input));
  });

  it('rejects rates that are not positive numbers', () => {
    expect(() => new Resampler(0, 24_000)).toThrow(RangeError);
    expect(() => new Resampler(48_000, Number.NaN)).toThrow(/positive/);
  });
});
