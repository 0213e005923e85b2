// Channel mixing and sample-rate conversion for PCM16, in plain TypeScript so tests and the CLI client
// need no native tools. Windowed-sinc interpolation: band-limited, so 22.05 → 24 kHz adds no audible
// images and 48 → 24 kHz does not alias.

import type { PcmAudio } from './wav.js';

/** Half-width of the interpolation kernel in zero crossings; 16 keeps ripple far below PCM16 speech noise. */
const ZERO_CROSSINGS = 16;

/** Averages interleaved channels into one. */
export function mixToMono(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[f * channels + c]!;
    out[f] = Math.round(sum / channels);
  }
  return out;
}

function blackman(x: number): number {
  // x in [-1, 1]; the window is 1 at the centre and 0 at the edges.
  const t = (x + 1) / 2;
  return 0.42 - 0.5 * Math.cos(2 * Math.PI * t) + 0.08 * Math.cos(4 * Math.PI * t);
}

/** Resamples mono PCM16 from `fromRate` to `toRate`, low-passing at the lower Nyquist frequency. */
export function resamplePcm16(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (!(fromRate > 0 && toRate > 0)) throw new RangeError('sample rates must be positive');
  if (fromRate === toRate) return samples.slice();
  const ratio = fromRate / toRate;
  // Downsampling stretches the kernel so its cutoff sits at the output's Nyquist frequency.
  const cutoff = Math.min(1, toRate / fromRate);
  const halfWidth = ZERO_CROSSINGS / cutoff;
  const outLength = Math.floor((samples.length * toRate) / fromRate);
  const out = new Int16Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const center = i * ratio;
    const first = Math.max(0, Math.ceil(center - halfWidth));
    const last = Math.min(samples.length - 1, Math.floor(center + halfWidth));
    let acc = 0;
    for (let k = first; k <= last; k++) {
      const d = k - center;
      const x = d * cutoff;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      acc += samples[k]! * sinc * blackman(d / halfWidth);
    }
    const value = Math.round(acc * cutoff);
    out[i] = Math.max(-32768, Math.min(32767, value));
  }
  return out;
}

/** Any PCM16 audio to mono at `rate` (24 kHz for the realtime protocol). */
export function toMonoAt(audio: PcmAudio, rate: number): Int16Array {
  return resamplePcm16(mixToMono(audio.samples, audio.channels), audio.sampleRate, rate);
}
