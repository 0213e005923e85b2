import { pcmDurationMs } from './audio.js';

/** Five minutes of PCM16 24 kHz (≈14 MB): older audio is dropped first, as a bounded upstream buffer would. */
const MAX_BUFFER_BYTES = 5 * 60 * 1000 * 48;

/** The uncommitted input audio (`input_audio_buffer`), as PCM chunks. */
export class InputAudioBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Every byte ever appended in this session: the timeline VAD offsets are measured on. */
  private appended = 0;

  get durationMs(): number {
    return pcmDurationMs(this.bytes);
  }

  /** Milliseconds of audio appended since the session started. */
  get timelineMs(): number {
    return pcmDurationMs(this.appended);
  }

  append(pcm: Buffer): void {
    this.appended += pcm.length;
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.bytes += pcm.length;
    while (this.bytes > MAX_BUFFER_BYTES && this.chunks.length > 1) this.bytes -= this.chunks.shift()!.length;
  }

  /** Returns the buffered audio and empties the buffer. */
  take(): Buffer {
    const pcm = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.clear();
    return pcm;
  }

  clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }
}
