import { describe, expect, it } from 'vitest';
import {
  makeSpeechWav,
  makeSyntheticSpeech,
  mixToMono,
  pcm16FromBytes,
  pcmFrames,
  readWav,
  resamplePcm16,
  writeWav,
} from '../src/index.js';

function sine(freq: number, rate: number, seconds: number, amplitude: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

/** Frequency from the count of rising zero crossings over the middle of the signal (edges excluded). */
function estimateFrequency(samples: Int16Array, rate: number): number {
  const start = Math.floor(samples.length * 0.1);
  const end = Math.floor(samples.length * 0.9);
  let first = -1;
  let last = -1;
  let crossings = 0;
  for (let i = start + 1; i < end; i++) {
    if (samples[i - 1]! < 0 && samples[i]! >= 0) {
      if (first < 0) first = i;
      else crossings++;
      last = i;
    }
  }
  return (crossings * rate) / (last - first);
}

function rms(samples: Int16Array): number {
  const start = Math.floor(samples.length * 0.1);
  const end = Math.floor(samples.length * 0.9);
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! ** 2;
  return Math.sqrt(sum / (end - start));
}

/** A WAV header + chunk, written by hand so the tests do not rely on writeWav to test readWav. */
function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'ascii');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmtChunk(format: number, channels: number, rate: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(format, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return chunk('fmt ', b);
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('WAV', () => {
  it('round-trips PCM16 samples, rate and channels', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234, -4321, 7]);
    const wav = writeWav({ sampleRate: 24000, channels: 2, samples });
    expect(wav.length).toBe(44 + samples.length * 2);
    const back = readWav(wav);
    expect(back.sampleRate).toBe(24000);
    expect(back.channels).toBe(2);
    expect(Array.from(back.samples)).toEqual(Array.from(samples));
  });

  it('skips LIST and odd-sized chunks before data', () => {
    const pcm = Buffer.alloc(6);
    pcm.writeInt16LE(100, 0);
    pcm.writeInt16LE(-200, 2);
    pcm.writeInt16LE(300, 4);
    const wav = riff(
      fmtChunk(1, 1, 16000, 16),
      chunk('LIST', Buffer.from('INFOISFT\x05\x00\x00\x00sox!', 'latin1')),
      chunk('odd ', Buffer.from([1, 2, 3])),
      chunk('data', pcm),
    );
    const audio = readWav(wav);
    expect(audio.sampleRate).toBe(16000);
    expect(Array.from(audio.samples)).toEqual([100, -200, 300]);
  });

  it('clamps a data size that runs past the end (streamed writers)', () => {
    const wav = riff(fmtChunk(1, 1, 8000, 16), chunk('data', Buffer.from([1, 0, 2, 0])));
    wav.writeUInt32LE(0x7fffffff, wav.length - 8);
    expect(Array.from(readWav(wav).samples)).toEqual([1, 2]);
  });

  it('rejects non-PCM and non-16-bit files with a clear error', () => {
    expect(() => readWav(riff(fmtChunk(3, 1, 48000, 32), chunk('data', Buffer.alloc(8))))).toThrow(
      /unsupported WAV encoding IEEE float: only 16-bit PCM/,
    );
    expect(() => readWav(riff(fmtChunk(1, 1, 8000, 8), chunk('data', Buffer.alloc(8))))).toThrow(
      /8-bit samples, only 16-bit PCM/,
    );
    expect(() => readWav(Buffer.from('ID3 not a wav file'))).toThrow(/not a WAV file/);
    expect(() => readWav(riff(fmtChunk(1, 1, 8000, 16)))).toThrow(/no data chunk/);
  });
});

describe('resampler', () => {
  it.each([
    [22050, 24000, 440],
    [48000, 24000, 1000],
    [16000, 24000, 3000],
    [44100, 24000, 200],
  ])('keeps a sine’s frequency and amplitude from %i Hz to %i Hz (%i Hz tone)', (from, to, freq) => {
    const amplitude = 16000;
    const out = resamplePcm16(sine(freq, from, 0.5, amplitude), from, to);
    expect(out.length).toBe(Math.floor((0.5 * from * to) / from));
    expect(estimateFrequency(out, to)).toBeCloseTo(freq, -1);
    expect(Math.abs(estimateFrequency(out, to) - freq)).toBeLessThan(freq * 0.005);
    expect(rms(out) / (amplitude / Math.SQRT2)).toBeGreaterThan(0.98);
    expect(rms(out) / (amplitude / Math.SQRT2)).toBeLessThan(1.02);
  });

  it('removes content above the new Nyquist frequency when downsampling', () => {
    // 18 kHz at 48 kHz would fold to 6 kHz at 24 kHz without the low-pass.
    const out = resamplePcm16(sine(18000, 48000, 0.2, 16000), 48000, 24000);
    expect(rms(out)).toBeLessThan(16000 * 0.01);
  });

  it('mixes channels to mono by averaging', () => {
    expect(Array.from(mixToMono(Int16Array.from([100, 300, -50, 50, 32767, 32767]), 2))).toEqual([
      200, 0, 32767,
    ]);
  });
});

describe('speech', () => {
  it('makes deterministic synthetic speech of the requested length, loud in syllables, quiet in gaps', () => {
    const a = makeSyntheticSpeech(1000);
    const b = makeSyntheticSpeech(1000);
    expect(a.source).toBe('synthetic');
    expect(a.samples.length).toBe(24000);
    expect(a.durationMs).toBe(1000);
    expect(Buffer.compare(a.pcm, b.pcm)).toBe(0);
    // Middle of the first syllable vs. the gap after it (160–200 ms).
    const voiced = a.samples.subarray(Math.round(0.05 * 24000), Math.round(0.11 * 24000));
    const gap = a.samples.subarray(Math.round(0.165 * 24000), Math.round(0.195 * 24000));
    expect(Math.max(...voiced.map(Math.abs))).toBeGreaterThan(3000);
    expect(Math.max(...gap.map(Math.abs))).toBe(0);
    expect(readWav(a.wav).samples.length).toBe(a.samples.length);
  });

  it('makes speech for a sentence (espeak-ng when installed) as 24 kHz mono', async () => {
    const clip = await makeSpeechWav('Hello, how are you?');
    expect(clip.sampleRate).toBe(24000);
    expect(clip.durationMs).toBeGreaterThan(500);
    expect(clip.durationMs).toBeLessThan(5000);
    const audio = readWav(clip.wav);
    expect(audio).toMatchObject({ sampleRate: 24000, channels: 1 });
    expect(Array.from(pcm16FromBytes(clip.pcm).subarray(0, 100))).toEqual(
      Array.from(clip.samples.subarray(0, 100)),
    );
    expect(rms(clip.samples)).toBeGreaterThan(300);
  });

  it('splits PCM into 20 ms frames of 960 bytes', () => {
    const frames = pcmFrames(makeSyntheticSpeech(50).pcm);
    expect(frames.map((f) => f.length)).toEqual([960, 960, 480]);
  });
});
