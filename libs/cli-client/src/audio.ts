// Audio in and out of the client: any PCM16 WAV becomes 24 kHz mono 20 ms frames; received chunks
// become a playable WAV.
import { readFile } from 'node:fs/promises';
// The audio entry point only: the CLI needs WAV and PCM helpers, not the Redis and process helpers.
import {
  PROTOCOL_SAMPLE_RATE,
  pcm16ToBytes,
  pcmFrames,
  readWav,
  toMonoAt,
  writeWav,
} from '@rtv/testing/audio';

/** 20 ms at 24 kHz PCM16: the frame size realtime clients send. */
export const FRAME_MS = 20;
/** Trailing silence after a WAV so the server's VAD sees the end of the turn. */
export const TRAILING_SILENCE_MS = 1000;

export interface AudioInput {
  /** Frames of the file followed by the trailing silence. */
  frames: Buffer[];
  /** Length of the file's audio (without the silence). */
  durationMs: number;
  /** What the file was before conversion, for the printout. */
  original: { sampleRate: number; channels: number };
}

/** Converts WAV bytes to the frames the client sends. */
export function audioInputFromWav(wav: Uint8Array): AudioInput {
  const audio = readWav(wav);
  const pcm = pcm16ToBytes(toMonoAt(audio, PROTOCOL_SAMPLE_RATE));
  const silence = Buffer.alloc(((PROTOCOL_SAMPLE_RATE * TRAILING_SILENCE_MS) / 1000) * 2);
  return {
    frames: [...pcmFrames(pcm, FRAME_MS), ...pcmFrames(silence, FRAME_MS)],
    durationMs: (pcm.length / 2 / PROTOCOL_SAMPLE_RATE) * 1000,
    original: { sampleRate: audio.sampleRate, channels: audio.channels },
  };
}

/** Reads a WAV file; errors name the file. */
export async function loadAudioInput(file: string): Promise<AudioInput> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return audioInputFromWav(bytes);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** Received PCM16 chunks as a 24 kHz mono WAV file. */
export function replyWav(chunks: Buffer[]): Buffer {
  const pcm = Buffer.concat(chunks);
  const samples = new Int16Array(Math.floor(pcm.length / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2);
  return writeWav({ sampleRate: PROTOCOL_SAMPLE_RATE, channels: 1, samples });
}

/** Duration of PCM16 mono 24 kHz bytes. */
export function pcmDurationMs(bytes: number): number {
  return (bytes / 2 / PROTOCOL_SAMPLE_RATE) * 1000;
}
