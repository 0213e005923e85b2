import { describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToPcm16,
  floatToPcm16,
  pcm16DurationMs,
  pcm16ToBytes,
  pcm16ToFloat,
} from '../src/audio/pcm16.js';
import { fitSine, sine } from './signal.js';

describe('PCM16 encoding', () => {
  it('maps full scale exactly and clamps what is beyond it instead of wrapping', () => {
    const encoded = floatToPcm16(Float32Array.of(-1, -0.5, 0, 0.5, 1, 1.5, -3, Number.NaN));
    expect(Array.from(encoded)).toEqual([-32768, -16384, 0, 16384, 32767, 32767, -32768, 0]);
    expect(Array.from(pcm16ToFloat(Int16Array.of(-32768, 0, 32767)))).toEqual([-1, 0, 1]);
  });

  it('round-trips within one quantisation step', () => {
    const x = sine(24_000, 997, 0.9, 0.05);
    const back = pcm16ToFloat(floatToPcm16(x));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - back[i]!));
    expect(worst).toBeLessThanOrEqual(0.5 / 32767 + 1e-7);
  });

  it('keeps a sine a sine through bytes: same frequency, same amplitude', () => {
    const bytes = pcm16ToBytes(floatToPcm16(sine(24_000, 440, 0.25, 1)));
    expect(bytes.length).toBe(48_000);
    const fit = fitSine(pcm16ToFloat(bytesToPcm16(bytes)), 24_000, 440, 0);
    expect(Math.abs(fit.frequency - 440)).toBeLessThan(0.05);
    expect(Math.abs(fit.amplitude - 0.25)).toBeLessThan(0.25 * 0.001);
    // 16-bit quantisation noise of a -12 dBFS sine: about -86 dB.
    expect(fit.residual).toBeLessThan(1e-4);
  });

  it('writes little-endian bytes whatever the platform order', () => {
    const bytes = pcm16ToBytes(Int16Array.of(1, -2, 0x1234));
    expect(Array.from(bytes)).toEqual([0x01, 0x00, 0xfe, 0xff, 0x34, 0x12]);
    const view = Buffer.from(bytes);
    expect([view.readInt16LE(0), view.readInt16LE(2), view.readInt16LE(4)]).toEqual([1, -2, 0x1234]);
    expect(Array.from(bytesToPcm16(Uint8Array.of(0x01, 0x00, 0xfe, 0xff, 0x7f)))).toEqual([1, -2]);
  });

  it('encodes standard padded base64 like the server expects, including long buffers', () => {
    for (const length of [0, 1, 2, 3, 960, 100_001]) {
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const encoded = bytesToBase64(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(base64ToBytes(encoded))).toEqual(Array.from(bytes));
    }
  });

  it('knows how long a buffer plays', () => {
    expect(pcm16DurationMs(960)).toBe(20);
    expect(pcm16DurationMs(4800)).toBe(100);
    expect(pcm16DurationMs(960, 48_000)).toBe(10);
  });
});
