/** The provider's PCM: signed 16-bit little-endian, mono, 24 kHz. */
export const SAMPLE_RATE = 24_000;
/** 24 000 samples/s × 2 bytes / 1000 ms. */
export const BYTES_PER_MS = 48;

export function pcmDurationMs(bytes: number): number {
  return bytes / BYTES_PER_MS;
}

/** Byte length of `ms` of audio, rounded down to a whole sample. */
export function pcmBytes(ms: number): number {
  return Math.floor((ms * BYTES_PER_MS) / 2) * 2;
}

/** RMS of PCM16 samples in `buf[start, end)`, normalised so a full-scale square wave is 1. */
export function rmsPcm16(buf: Buffer, start = 0, end = buf.length): number {
  let sum = 0;
  let n = 0;
  for (let i = start; i + 1 < end; i += 2) {
    const s = buf.readInt16LE(i) / 32768;
    sum += s * s;
    n++;
  }
  return n === 0 ? 0 : Math.sqrt(sum / n);
}

/** Float samples in [-1, 1] to PCM16 little-endian, clipping outside the range. */
export function floatToPcm16(samples: Float32Array | number[]): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    out.writeInt16LE(Math.round(s * 32767), i * 2);
  }
  return out;
}

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  /** First channel only, as floats in [-1, 1]. */
  samples: Float32Array;
}

/**
 * Minimal RIFF/WAVE reader for 16-bit PCM. Tolerates the oversized `data` length that streaming writers
 * (e.g. `espeak-ng --stdout` into a pipe) put in the header because they cannot seek back to fix it.
 */
export function parseWav(buf: Buffer): DecodedWav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE stream');
  }
  let offset = 12;
  let sampleRate = 0;
  let channels = 0;
  let bits = 0;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (buf.readUInt16LE(body) !== 1) throw new Error('WAV is not integer PCM');
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (!sampleRate || bits !== 16 || channels < 1) throw new Error('WAV data before a 16-bit fmt chunk');
      const end = Math.min(buf.length, body + size);
      const frame = 2 * channels;
      const count = Math.floor((end - body) / frame);
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = buf.readInt16LE(body + i * frame) / 32768;
      return { sampleRate, channels, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV has no data chunk');
}

/**
 * Linear-interpolation resampler. Good enough for speech going up in rate (22.05 → 24 kHz), where there is
 * no aliasing to filter; not meant for downsampling.
 */
export function resampleLinear(input: Float32Array, from: number, to: number): Float32Array {
  if (from === to || input.length === 0) return input;
  const length = Math.max(1, Math.round((input.length * to) / from));
  const out = new Float32Array(length);
  const step = from / to;
  for (let i = 0; i < length; i++) {
    const pos = i * step;
    const i0 = Math.floor(pos);
    const frac = pos - i0;
    const a = input[Math.min(i0, input.length - 1)]!;
    const b = input[Math.min(i0 + 1, input.length - 1)]!;
    out[i] = a + (b - a) * frac;
  }
  return out;
}
