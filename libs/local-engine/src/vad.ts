import type { SemanticVadTurnDetection, ServerVadTurnDetection } from '@rtv/protocol/openai-realtime';
import { rmsPcm16, SAMPLE_RATE } from './audio.js';

export interface VadOptions {
  /**
   * 0..1 like the provider's `threshold`: mapped linearly onto −60…−10 dBFS of frame RMS, so the default 0.5
   * (−35 dBFS) passes normal speech and rejects room noise.
   */
  threshold: number;
  /** Audio kept before the detected onset; `audio_start_ms` is moved back by this much. */
  prefixPaddingMs: number;
  /** Continuous silence that ends a turn; `audio_end_ms` includes it. */
  silenceDurationMs: number;
  /** Silence (in appended audio) after {@link EnergyVad.armIdle} that fires a `timeout`; null = never. */
  idleTimeoutMs: number | null;
}

export type VadEvent =
  | { type: 'speech_started'; audioStartMs: number }
  | { type: 'speech_stopped'; audioEndMs: number }
  | { type: 'timeout'; audioStartMs: number; audioEndMs: number };

const FRAME_MS = 10;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
const FRAME_BYTES = FRAME_SAMPLES * 2;
/** Voiced frames in a row before an onset counts: a click or a single loud frame is not speech. */
const ONSET_FRAMES = 3;

/** Silence windows standing in for semantic VAD's eagerness (the engine has no end-of-turn model). */
const SEMANTIC_SILENCE_MS = { low: 800, medium: 500, auto: 500, high: 250 } as const;

/** Detector settings for a session's turn detection, provider defaults filled in. */
export function vadOptions(td: ServerVadTurnDetection | SemanticVadTurnDetection): VadOptions {
  if (td.type === 'semantic_vad') {
    const silenceDurationMs = SEMANTIC_SILENCE_MS[td.eagerness ?? 'auto'];
    return { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs, idleTimeoutMs: null };
  }
  return {
    threshold: td.threshold ?? 0.5,
    prefixPaddingMs: td.prefix_padding_ms ?? 300,
    silenceDurationMs: td.silence_duration_ms ?? 200,
    idleTimeoutMs: td.idle_timeout_ms ?? null,
  };
}

/** Frame RMS threshold for a provider-style 0..1 `threshold`. */
export function rmsThreshold(threshold: number): number {
  return 10 ** ((-60 + 50 * threshold) / 20);
}

/**
 * Energy VAD over PCM16 24 kHz. Time is measured in appended audio (sample counts, never wall clock), as the
 * provider reports `audio_start_ms` / `audio_end_ms`, which makes detection deterministic for a given input.
 */
export class EnergyVad {
  private opts: VadOptions;
  private level: number;
  /** Samples analysed since the session started (frames are analysed whole). */
  private samples = 0;
  private carry: Buffer = Buffer.alloc(0);
  private speaking = false;
  private voicedRun = 0;
  private silentMs = 0;
  private idleAnchorMs: number | null = null;

  /** `startMs` is where this detector's audio begins in the session's appended-audio timeline. */
  constructor(opts: VadOptions, startMs = 0) {
    this.opts = opts;
    this.level = rmsThreshold(opts.threshold);
    this.samples = Math.round((startMs * SAMPLE_RATE) / 1000);
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Milliseconds of audio analysed so far in the session timeline. */
  get positionMs(): number {
    return Math.round((this.samples * 1000) / SAMPLE_RATE);
  }

  /** Analyses appended audio and returns what it detected, in order. */
  push(pcm: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    const buf = this.carry.length ? Buffer.concat([this.carry, pcm]) : pcm;
    let offset = 0;
    for (; offset + FRAME_BYTES <= buf.length; offset += FRAME_BYTES) {
      const voiced = rmsPcm16(buf, offset, offset + FRAME_BYTES) >= this.level;
      this.samples += FRAME_SAMPLES;
      this.step(voiced, events);
    }
    // Appends need not be frame- or even sample-aligned; keep the tail for the next call.
    this.carry = Buffer.from(buf.subarray(offset));
    return events;
  }

  /** Forget any turn in progress (buffer cleared or committed by the client); the timeline keeps running. */
  reset(): void {
    this.speaking = false;
    this.voicedRun = 0;
    this.silentMs = 0;
  }

  /** Start counting idle silence from now (the provider arms it when the assistant finishes a response). */
  armIdle(): void {
    this.idleAnchorMs = this.opts.idleTimeoutMs === null ? null : this.positionMs;
  }

  private step(voiced: boolean, events: VadEvent[]): void {
    const now = this.positionMs;
    if (!this.speaking) {
      this.voicedRun = voiced ? this.voicedRun + 1 : 0;
      if (this.voicedRun >= ONSET_FRAMES) {
        this.speaking = true;
        this.silentMs = 0;
        this.idleAnchorMs = null;
        const onset = now - ONSET_FRAMES * FRAME_MS;
        events.push({ type: 'speech_started', audioStartMs: Math.max(0, onset - this.opts.prefixPaddingMs) });
      } else if (this.idleAnchorMs !== null && this.opts.idleTimeoutMs !== null) {
        if (now - this.idleAnchorMs >= this.opts.idleTimeoutMs) {
          events.push({ type: 'timeout', audioStartMs: this.idleAnchorMs, audioEndMs: now });
          this.idleAnchorMs = null;
        }
      }
      return;
    }
    this.silentMs = voiced ? 0 : this.silentMs + FRAME_MS;
    if (this.silentMs >= this.opts.silenceDurationMs) {
      this.speaking = false;
      this.voicedRun = 0;
      events.push({ type: 'speech_stopped', audioEndMs: now });
    }
  }
}
