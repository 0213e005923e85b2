// Speech-like audio for tests: real synthesized speech from espeak-ng when it is installed (so VAD and
// any recognizer see real phonemes), otherwise a deterministic voiced signal an energy VAD treats as speech.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toMonoAt } from './resample.js';
import { pcm16ToBytes, readWav, writeWav } from './wav.js';

/** The realtime protocol's audio format: PCM16 mono at 24 kHz. */
export const PROTOCOL_SAMPLE_RATE = 24_000;

export interface SpeechClip {
  /** Mono PCM16 samples at {@link PROTOCOL_SAMPLE_RATE}. */
  samples: Int16Array;
  sampleRate: number;
  /** The samples as PCM16 little-endian bytes, as carried (base64) in `input_audio_buffer` frames. */
  pcm: Buffer;
  /** The samples as a playable WAV file. */
  wav: Buffer;
  durationMs: number;
  /** Which generator made it, so a test can say what it fed the system. */
  source: 'espeak-ng' | 'synthetic';
}

export interface SpeechOptions {
  /**
   * espeak-ng voice.
   * @defaultValue 'en-us'
   */
  voice?: string;
  /**
   * Speaking rate in words per minute; espeak-ng's default (175) is brisk for a VAD test.
   * @defaultValue 160
   */
  wordsPerMinute?: number;
}

const execFileAsync = promisify(execFile);

let espeakChecked: Promise<boolean> | undefined;

/** Whether `espeak-ng` runs here (checked once per process). */
export function hasEspeak(): Promise<boolean> {
  espeakChecked ??= execFileAsync('espeak-ng', ['--version']).then(
    () => true,
    () => false,
  );
  return espeakChecked;
}

function clip(samples: Int16Array, source: SpeechClip['source']): SpeechClip {
  return {
    samples,
    sampleRate: PROTOCOL_SAMPLE_RATE,
    pcm: pcm16ToBytes(samples),
    wav: writeWav({ sampleRate: PROTOCOL_SAMPLE_RATE, channels: 1, samples }),
    durationMs: (samples.length * 1000) / PROTOCOL_SAMPLE_RATE,
    source,
  };
}

/**
 * Speaks `text` with espeak-ng (its 22.05 kHz output resampled to 24 kHz). Without espeak-ng, returns
 * {@link makeSyntheticSpeech} of about the time the text takes to say.
 */
export async function makeSpeechWav(text: string, options: SpeechOptions = {}): Promise<SpeechClip> {
  if (!(await hasEspeak())) {
    // ~14 characters per second is conversational speed.
    return makeSyntheticSpeech(Math.max(500, Math.round((text.length / 14) * 1000)));
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rtv-speech-'));
  try {
    const file = path.join(dir, 'speech.wav');
    const args = ['-v', options.voice ?? 'en-us', '-s', String(options.wordsPerMinute ?? 160), '-w', file];
    // `--` keeps text that starts with a dash from being read as an option.
    await execFileAsync('espeak-ng', [...args, '--', text]);
    const audio = readWav(await readFile(file));
    return clip(toMonoAt(audio, PROTOCOL_SAMPLE_RATE), 'espeak-ng');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A deterministic speech-like signal of `ms` milliseconds: 200 ms "syllables" of a voiced sound (a gliding
 * 110–170 Hz fundamental with harmonics shaped like two vowel formants) under a raised-cosine envelope,
 * separated by short gaps. Loud enough for an energy VAD, with no randomness so failures reproduce.
 */
export function makeSyntheticSpeech(ms: number): SpeechClip {
  const rate = PROTOCOL_SAMPLE_RATE;
  const total = Math.max(0, Math.round((ms * rate) / 1000));
  const samples = new Int16Array(total);
  const syllable = Math.round(0.2 * rate);
  const voiced = Math.round(0.16 * rate);
  const formants = [700, 1200];
  let phase = 0;
  for (let i = 0; i < total; i++) {
    const inSyllable = i % syllable;
    const index = Math.floor(i / syllable);
    if (inSyllable >= voiced) continue;
    const progress = inSyllable / voiced;
    const f0 = 110 + 60 * Math.abs(Math.sin(index * 1.7 + progress * Math.PI));
    phase += (2 * Math.PI * f0) / rate;
    let value = 0;
    for (let h = 1; h <= 12; h++) {
      const freq = h * f0;
      const emphasis = formants.reduce((sum, f) => sum + 1 / (1 + ((freq - f) / 250) ** 2), 0);
      value += (emphasis / h) * Math.sin(h * phase);
    }
    const envelope = 0.5 - 0.5 * Math.cos(2 * Math.PI * progress);
    samples[i] = Math.round(Math.max(-1, Math.min(1, value * 0.35 * envelope)) * 32767);
  }
  return clip(samples, 'synthetic');
}

/**
 * Splits PCM16 bytes into frames of `frameMs` (the last one may be shorter); 20 ms at 24 kHz is 960 bytes,
 * the frame size realtime clients send.
 */
export function pcmFrames(pcm: Uint8Array, frameMs = 20, sampleRate = PROTOCOL_SAMPLE_RATE): Buffer[] {
  const frameBytes = Math.round((sampleRate * frameMs) / 1000) * 2;
  const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const frames: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += frameBytes) {
    frames.push(bytes.subarray(offset, offset + frameBytes));
  }
  return frames;
}
