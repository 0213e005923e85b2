import { base64ToBytes, bytesToPcm16, PROTOCOL_SAMPLE_RATE, pcm16ToFloat } from './pcm16.js';
import type { PlaybackState } from './playback-queue.js';
import {
  loadWorklets,
  PLAYBACK_PROCESSOR,
  type PlaybackCommand,
  type PlaybackMessage,
  type PlaybackProcessorOptions,
  type PlaybackReport,
} from './worklets.js';

export interface AudioPlayerOptions {
  /**
   * Jitter buffer: reply audio collected before playing starts (and again after an underrun). Larger absorbs
   * more network jitter and delays the first sound as much.
   * @defaultValue 80
   */
  startThresholdMs?: number;
  /**
   * Most audio held at once; replies arrive faster than real time, so this must hold a long reply.
   * @defaultValue 300_000
   */
  maxBufferedMs?: number;
  /** Where the audio goes. @defaultValue `context.destination` */
  destination?: AudioNode;
}

/** Playback counters, in milliseconds and output samples. */
export interface PlaybackStats {
  state: PlaybackState;
  /** Of the current stretch of reply audio: what the listener has heard so far. */
  playedMs: number;
  /** Samples that reached the output since the player was created. */
  totalPlayedSamples: number;
  bufferedMs: number;
  underruns: number;
  droppedSamples: number;
  outputSampleRate: number;
}

/**
 * Plays `response.audio` through a jitter-tolerant queue on an AudioWorklet, resampled from 24 kHz to the
 * device rate. `interrupt()` is the barge-in: it stops within one render quantum (~3 ms) and says how much
 * of the reply was heard.
 */
export class AudioPlayer {
  readonly #context: AudioContext;
  readonly #node: AudioWorkletNode;
  #report: PlaybackReport = {
    state: 'idle',
    played: 0,
    totalPlayed: 0,
    buffered: 0,
    underruns: 0,
    dropped: 0,
  };
  #clearSeq = 0;
  #clears = new Map<number, (report: PlaybackReport) => void>();
  #listeners = new Set<(stats: PlaybackStats) => void>();
  #closed = false;

  private constructor(context: AudioContext, options: AudioPlayerOptions) {
    this.#context = context;
    const processorOptions: PlaybackProcessorOptions = {
      sourceRate: PROTOCOL_SAMPLE_RATE,
      startThresholdMs: options.startThresholdMs ?? 80,
      maxBufferedMs: options.maxBufferedMs ?? 300_000,
    };
    this.#node = new AudioWorkletNode(context, PLAYBACK_PROCESSOR, {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions,
    });
    this.#node.port.onmessage = (event: MessageEvent<PlaybackMessage>) => {
      const { type: _type, ...report } = event.data;
      this.#report = report;
      if (event.data.type === 'cleared') {
        this.#clears.get(event.data.id)?.(report);
        this.#clears.delete(event.data.id);
      }
      const stats = this.stats;
      for (const listener of this.#listeners) listener(stats);
    };
    this.#node.connect(options.destination ?? context.destination);
  }

  static async create(context: AudioContext, options: AudioPlayerOptions = {}): Promise<AudioPlayer> {
    await loadWorklets(context);
    return new AudioPlayer(context, options);
  }

  /** Queues PCM16 24 kHz mono audio: little-endian bytes, or the base64 of a `response.audio` message. */
  enqueue(pcm: Uint8Array | string): void {
    if (this.#closed) return;
    const bytes = typeof pcm === 'string' ? base64ToBytes(pcm) : pcm;
    if (bytes.byteLength < 2) return;
    const samples = pcm16ToFloat(bytesToPcm16(bytes));
    this.#post({ type: 'audio', samples }, [samples.buffer]);
  }

  /** The reply is complete: play its tail without waiting for the jitter buffer to fill. */
  end(): void {
    this.#post({ type: 'end' });
  }

  /**
   * Stops playback at once and drops what is queued (barge-in). Resolves with the milliseconds of the
   * interrupted reply that were played (what the listener heard, and what the provider should keep), and
   * whether anything was playing or waiting to play at all.
   */
  interrupt(): Promise<{ playedMs: number; interrupted: boolean }> {
    if (this.#closed) return Promise.resolve({ playedMs: 0, interrupted: false });
    const id = ++this.#clearSeq;
    const cleared = new Promise<{ playedMs: number; interrupted: boolean }>((resolve) => {
      this.#clears.set(id, (report) =>
        resolve({
          playedMs: (report.played / this.#context.sampleRate) * 1000,
          interrupted: report.state !== 'idle' || report.buffered > 0,
        }),
      );
    });
    this.#post({ type: 'clear', id });
    return cleared;
  }

  get stats(): PlaybackStats {
    const rate = this.#context.sampleRate;
    const r = this.#report;
    return {
      state: r.state,
      playedMs: (r.played / rate) * 1000,
      totalPlayedSamples: r.totalPlayed,
      bufferedMs: (r.buffered / rate) * 1000,
      underruns: r.underruns,
      droppedSamples: r.dropped,
      outputSampleRate: rate,
    };
  }

  /** Calls `listener` with fresh stats about ten times a second while playing, and on every state change. */
  onStats(listener: (stats: PlaybackStats) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#post({ type: 'close' });
    this.#closed = true;
    this.#node.disconnect();
    this.#node.port.onmessage = null;
    for (const resolve of this.#clears.values()) resolve({ ...this.#report, state: 'idle', buffered: 0 });
    this.#clears.clear();
    this.#listeners.clear();
  }

  #post(command: PlaybackCommand, transfer: Transferable[] = []): void {
    if (!this.#closed) this.#node.port.postMessage(command, transfer);
  }
}
