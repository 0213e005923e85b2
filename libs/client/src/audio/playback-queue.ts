/** Where a {@link PlaybackQueue} is: nothing to play, filling its jitter buffer, or playing. */
export type PlaybackState = 'idle' | 'buffering' | 'playing';

/**
 * A jitter-tolerant playout queue for streamed reply audio, pulled by the audio render callback.
 *
 * Audio arrives in bursts over the network; playing each chunk the moment it lands would stutter at every
 * late packet. The queue first collects `startThresholdMs` of audio (the jitter buffer) and only then
 * plays. If it runs dry mid-reply (an underrun) it outputs silence and collects the threshold again rather
 * than clicking through every late chunk. After `end()`, the tail plays out without waiting for the
 * threshold. `clear()` stops at once: barge-in.
 *
 * Self-contained: the playback worklet is generated from this class's source text (see `worklets.ts`).
 */
export class PlaybackQueue {
  // `declare`d fields, assigned in the constructor: see Resampler for why.
  declare readonly sampleRate: number;
  /** Samples to collect before playing starts or resumes after an underrun. */
  declare readonly startThreshold: number;
  /** Most samples held at once; beyond it new audio is dropped (and counted), bounding memory. */
  declare readonly maxBuffered: number;
  declare state: PlaybackState;
  /** Samples waiting to be played. */
  declare buffered: number;
  /** Samples played since this stretch of audio started (the part of the reply the listener heard). */
  declare played: number;
  /** Samples played since the queue was created. */
  declare totalPlayed: number;
  /** Times the queue ran dry while more audio was expected. */
  declare underruns: number;
  /** Samples refused because the queue was full. */
  declare dropped: number;
  declare private chunks: Float32Array[];
  declare private head: number;
  declare private offset: number;
  declare private ended: boolean;

  /**
   * @param startThresholdMs Jitter buffer: audio collected before playing starts. Larger absorbs more network
   *   jitter, and adds as much latency to the first sound of each reply.
   * @param maxBufferedMs Cap on queued audio; replies are generated faster than real time, so this must hold
   *   a whole long reply.
   */
  constructor(sampleRate: number, startThresholdMs = 80, maxBufferedMs = 300_000) {
    this.sampleRate = sampleRate;
    this.startThreshold = Math.max(0, Math.round((sampleRate * startThresholdMs) / 1000));
    this.maxBuffered = Math.max(1, Math.round((sampleRate * maxBufferedMs) / 1000));
    this.state = 'idle';
    this.buffered = 0;
    this.played = 0;
    this.totalPlayed = 0;
    this.underruns = 0;
    this.dropped = 0;
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.ended = false;
  }

  /** Queues samples (the queue keeps the array: do not reuse it). Returns how many were accepted. */
  push(samples: Float32Array): number {
    const room = this.maxBuffered - this.buffered;
    const accepted = Math.min(room, samples.length);
    this.dropped += samples.length - accepted;
    if (accepted === 0) return 0;
    this.chunks.push(accepted === samples.length ? samples : samples.subarray(0, accepted));
    this.buffered += accepted;
    if (this.state === 'idle') {
      this.state = 'buffering';
      this.played = 0;
      this.ended = false;
    }
    return accepted;
  }

  /** No more audio is coming for now (the reply is complete): play the rest without waiting to fill up. */
  end(): void {
    this.ended = true;
    if (this.state === 'buffering' && this.buffered === 0) this.state = 'idle';
  }

  /** Stops at once and drops what is queued. Returns the samples played of the interrupted stretch. */
  clear(): number {
    const played = this.played;
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.buffered = 0;
    this.played = 0;
    this.ended = false;
    this.state = 'idle';
    return played;
  }

  /** Fills `out` with the next samples (silence where there is nothing to play); returns the audio written. */
  pull(out: Float32Array): number {
    if (this.state === 'buffering' && (this.buffered >= this.startThreshold || this.ended)) {
      this.state = 'playing';
    }
    let written = 0;
    if (this.state === 'playing') {
      while (written < out.length && this.head < this.chunks.length) {
        const chunk = this.chunks[this.head]!;
        const n = Math.min(out.length - written, chunk.length - this.offset);
        out.set(chunk.subarray(this.offset, this.offset + n), written);
        written += n;
        this.offset += n;
        if (this.offset === chunk.length) {
          this.head++;
          this.offset = 0;
        }
      }
      this.buffered -= written;
      this.played += written;
      this.totalPlayed += written;
      if (this.buffered === 0) {
        if (this.ended) {
          this.state = 'idle';
        } else {
          this.state = 'buffering';
          this.underruns++;
        }
      }
      // Compact now and then instead of shifting the array on every chunk.
      if (this.head > 64 || this.head === this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
    }
    out.fill(0, written);
    return written;
  }
}
