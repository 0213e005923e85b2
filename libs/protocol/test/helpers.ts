import { readFileSync } from 'node:fs';

/** 20 ms of 24 kHz mono PCM16: 480 samples, 960 bytes. */
export const FRAME_20MS_BYTES = 960;

/** Deterministic PCM16 audio (a 440 Hz tone) as standard base64. */
export function pcm16Base64(bytes: number = FRAME_20MS_BYTES): string {
  const pcm = Buffer.alloc(bytes);
  for (let i = 0; i + 1 < bytes; i += 2) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i / 2)) / 24_000)), i);
  }
  return pcm.toString('base64');
}

/** A `conversation.item.input` audio frame as the client would send it. */
export function audioFrame(audio: string): string {
  return JSON.stringify({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio },
  });
}

/** Reads a file relative to the repository root. */
export function readRepoFile(path: string): string {
  return readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
}
