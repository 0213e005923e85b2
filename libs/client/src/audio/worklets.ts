// AudioWorklet processors for capture and playback. A worklet module must be loaded from a URL, so the
// module is generated as text from the DSP classes themselves and loaded from a Blob: the code that runs on
// the audio thread is the code the unit tests exercise, and applications need not host an extra file.
import { type Pcm16Chunk, Pcm16Chunker } from './chunker.js';
import { floatToPcm16 } from './pcm16.js';
import { PlaybackQueue, type PlaybackState } from './playback-queue.js';
import { Resampler } from './resampler.js';

export const CAPTURE_PROCESSOR = 'rtv-capture';
export const PLAYBACK_PROCESSOR = 'rtv-playback';

/** The part of `AudioWorkletProcessor` the processors use (the DOM typings do not include worklet scope). */
interface ProcessorPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}
type ProcessorBase = new (options: { processorOptions?: unknown }) => { readonly port: ProcessorPort };

export interface CaptureProcessorOptions {
  /** Rate the chunks are produced at (the protocol's 24 kHz). */
  targetRate: number;
  chunkMs: number;
}

/** Messages from the capture processor. */
export type CaptureMessage = ({ type: 'chunk' } & Pcm16Chunk) | { type: 'flushed' };

export interface PlaybackProcessorOptions {
  /** Rate of the audio posted to the processor (the protocol's 24 kHz). */
  sourceRate: number;
  startThresholdMs: number;
  maxBufferedMs: number;
}

/** Messages to the playback processor. */
export type PlaybackCommand =
  | { type: 'audio'; samples: Float32Array }
  | { type: 'end' }
  | { type: 'clear'; id: number }
  | { type: 'close' };

/** Counters the playback processor reports, in output samples (the context's rate). */
export interface PlaybackReport {
  state: PlaybackState;
  played: number;
  totalPlayed: number;
  buffered: number;
  underruns: number;
  dropped: number;
}

/** Messages from the playback processor. */
export type PlaybackMessage =
  | ({ type: 'progress' } & PlaybackReport)
  | ({ type: 'cleared'; id: number } & PlaybackReport);

// The processors are factories that receive every dependency as a parameter: their source text is
// evaluated in the worklet scope, where only what the module defines (and the worklet globals) exists.
// Like the DSP classes, they declare fields and assign them in the constructor, so that no bundler rewrites
// field syntax into calls to helpers of its own (the worklet scope would not have them).
function captureProcessor(
  Base: ProcessorBase,
  ResamplerClass: typeof Resampler,
  ChunkerClass: typeof Pcm16Chunker,
  encode: typeof floatToPcm16,
  contextRate: number,
) {
  return class CaptureProcessor extends Base {
    declare resampler: Resampler;
    declare chunker: Pcm16Chunker;
    declare mono: Float32Array;
    declare stopped: boolean;
    declare emit: (chunk: Pcm16Chunk) => void;

    constructor(options: { processorOptions?: unknown }) {
      super(options);
      const { targetRate, chunkMs } = options.processorOptions as CaptureProcessorOptions;
      this.resampler = new ResamplerClass(contextRate, targetRate);
      this.chunker = new ChunkerClass(targetRate, chunkMs);
      this.mono = new Float32Array(128);
      this.stopped = false;
      this.emit = (chunk) => {
        // Transferred, not copied: the chunker starts a new buffer after every chunk.
        this.port.postMessage({ type: 'chunk', ...chunk }, [chunk.bytes.buffer]);
      };
      this.port.onmessage = (event) => {
        if (event.data === 'flush') {
          this.chunker.flush(this.emit);
          this.port.postMessage({ type: 'flushed' });
        } else if (event.data === 'stop') {
          this.stopped = true;
        }
      };
    }

    process(inputs: Float32Array[][]): boolean {
      if (this.stopped) return false;
      const channels = inputs[0];
      // No input yet (the source is not connected or has not started): keep the node alive.
      if (channels === undefined || channels.length === 0) return true;
      const frames = channels[0]!.length;
      if (this.mono.length !== frames) this.mono = new Float32Array(frames);
      const mono = this.mono;
      if (channels.length === 1) {
        mono.set(channels[0]!);
      } else {
        mono.fill(0);
        for (const channel of channels)
          for (let i = 0; i < frames; i++) mono[i]! += channel[i]! / channels.length;
      }
      this.chunker.push(encode(this.resampler.process(mono)), this.emit);
      return true;
    }
  };
}

function playbackProcessor(
  Base: ProcessorBase,
  ResamplerClass: typeof Resampler,
  QueueClass: typeof PlaybackQueue,
  contextRate: number,
) {
  return class PlaybackProcessor extends Base {
    declare queue: PlaybackQueue;
    declare resampler: Resampler;
    declare closed: boolean;
    declare sinceReport: number;
    /** Report about ten times a second, and on every state change. */
    declare reportEvery: number;

    constructor(options: { processorOptions?: unknown }) {
      super(options);
      const { sourceRate, startThresholdMs, maxBufferedMs } =
        options.processorOptions as PlaybackProcessorOptions;
      this.queue = new QueueClass(contextRate, startThresholdMs, maxBufferedMs);
      this.resampler = new ResamplerClass(sourceRate, contextRate);
      this.closed = false;
      this.sinceReport = 0;
      this.reportEvery = Math.round(contextRate / 10);
      this.port.onmessage = (event) => this.command(event.data as PlaybackCommand);
    }

    command(message: PlaybackCommand): void {
      switch (message.type) {
        case 'audio':
          this.queue.push(this.resampler.process(message.samples));
          break;
        case 'end':
          // The resampler holds back its look-ahead: flush it so the reply's last samples are played.
          this.queue.push(this.resampler.flush());
          this.queue.end();
          break;
        case 'clear': {
          const report = this.report();
          this.queue.clear();
          this.resampler.reset();
          this.port.postMessage({ type: 'cleared', id: message.id, ...report });
          break;
        }
        case 'close':
          this.closed = true;
          break;
      }
    }

    report(): PlaybackReport {
      const q = this.queue;
      return {
        state: q.state,
        played: q.played,
        totalPlayed: q.totalPlayed,
        buffered: q.buffered,
        underruns: q.underruns,
        dropped: q.dropped,
      };
    }

    process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
      if (this.closed) return false;
      const channels = outputs[0];
      if (channels === undefined || channels.length === 0) return true;
      const before = this.queue.state;
      this.queue.pull(channels[0]!);
      for (let c = 1; c < channels.length; c++) channels[c]!.set(channels[0]!);
      this.sinceReport += channels[0]!.length;
      if (
        this.queue.state !== before ||
        (this.queue.state !== 'idle' && this.sinceReport >= this.reportEvery)
      ) {
        this.sinceReport = 0;
        this.port.postMessage({ type: 'progress', ...this.report() });
      }
      return true;
    }
  };
}

/**
 * Source of the worklet module that registers both processors. Each piece is a self-contained class or
 * function (it refers to nothing outside itself), which is what makes its source text portable.
 */
export function workletModuleSource(): string {
  return [
    `const Resampler = ${Resampler.toString()};`,
    `const Pcm16Chunker = ${Pcm16Chunker.toString()};`,
    `const PlaybackQueue = ${PlaybackQueue.toString()};`,
    `const floatToPcm16 = ${floatToPcm16.toString()};`,
    `registerProcessor(${JSON.stringify(CAPTURE_PROCESSOR)}, (${captureProcessor.toString()})(AudioWorkletProcessor, Resampler, Pcm16Chunker, floatToPcm16, sampleRate));`,
    `registerProcessor(${JSON.stringify(PLAYBACK_PROCESSOR)}, (${playbackProcessor.toString()})(AudioWorkletProcessor, Resampler, PlaybackQueue, sampleRate));`,
  ].join('\n');
}

const loaded = new WeakMap<BaseAudioContext, Promise<void>>();

/** Loads the processors into `context` once (later calls share the first load). */
export function loadWorklets(context: BaseAudioContext): Promise<void> {
  let loading = loaded.get(context);
  if (loading === undefined) {
    const url = URL.createObjectURL(new Blob([workletModuleSource()], { type: 'text/javascript' }));
    loading = context.audioWorklet.addModule(url).finally(() => URL.revokeObjectURL(url));
    // A failed load (e.g. a CSP without blob: in script-src) may be retried later.
    loading.catch(() => loaded.delete(context));
    loaded.set(context, loading);
  }
  return loading;
}
