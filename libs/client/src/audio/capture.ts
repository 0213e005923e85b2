import type { Pcm16Chunk } from './chunker.js';
import { PROTOCOL_SAMPLE_RATE } from './pcm16.js';
import {
  CAPTURE_PROCESSOR,
  type CaptureMessage,
  type CaptureProcessorOptions,
  loadWorklets,
} from './worklets.js';

export interface MicrophoneOptions {
  /**
   * Duration of each chunk, 20–100 ms: shorter lowers latency, longer lowers per-frame overhead.
   * @defaultValue 40
   */
  chunkMs?: number;
  /**
   * Track constraints, merged over the defaults (mono, echo cancellation, noise suppression and automatic
   * gain on). Echo cancellation is what lets hands-free mode hear the user over the reply.
   */
  constraints?: MediaTrackConstraints;
  /** Use this stream instead of asking for the microphone (a chosen device, a test signal). Not stopped by `stop()`. */
  stream?: MediaStream;
}

/** A captured chunk: PCM16 24 kHz mono bytes plus its level. */
export interface CapturedChunk extends Pcm16Chunk {
  durationMs: number;
}

const DEFAULT_CONSTRAINTS: MediaTrackConstraints = {
  channelCount: 1,
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

/**
 * Microphone capture on an AudioWorklet: the audio thread downmixes, resamples from the device rate to
 * 24 kHz, encodes PCM16 and cuts chunks, so the main thread only receives ready-to-send bytes.
 */
export class MicrophoneCapture {
  readonly chunkMs: number;
  /** The device (context) rate the audio is resampled from. */
  readonly deviceSampleRate: number;
  readonly #stream: MediaStream;
  readonly #ownsStream: boolean;
  readonly #source: MediaStreamAudioSourceNode;
  readonly #node: AudioWorkletNode;
  #flushWaiters: Array<() => void> = [];
  #stopped = false;

  private constructor(
    context: AudioContext,
    stream: MediaStream,
    ownsStream: boolean,
    chunkMs: number,
    onChunk: (chunk: CapturedChunk) => void,
  ) {
    this.chunkMs = chunkMs;
    this.deviceSampleRate = context.sampleRate;
    this.#stream = stream;
    this.#ownsStream = ownsStream;
    this.#source = context.createMediaStreamSource(stream);
    const processorOptions: CaptureProcessorOptions = { targetRate: PROTOCOL_SAMPLE_RATE, chunkMs };
    // No outputs: the node is a sink, processed because an input is connected to it.
    this.#node = new AudioWorkletNode(context, CAPTURE_PROCESSOR, {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: 'explicit',
      processorOptions,
    });
    this.#node.port.onmessage = (event: MessageEvent<CaptureMessage>) => {
      const message = event.data;
      if (message.type === 'flushed') {
        for (const resolve of this.#flushWaiters.splice(0)) resolve();
        return;
      }
      if (this.#stopped) return;
      onChunk({
        bytes: message.bytes,
        peak: message.peak,
        rms: message.rms,
        durationMs: (message.bytes.byteLength / 2 / PROTOCOL_SAMPLE_RATE) * 1000,
      });
    };
    this.#source.connect(this.#node);
  }

  /**
   * Asks for the microphone (unless a stream is given) and starts delivering chunks to `onChunk`.
   * Rejects with the browser's `NotAllowedError` / `NotFoundError` when there is no usable microphone.
   */
  static async start(
    context: AudioContext,
    onChunk: (chunk: CapturedChunk) => void,
    options: MicrophoneOptions = {},
  ): Promise<MicrophoneCapture> {
    const chunkMs = options.chunkMs ?? 40;
    if (!(chunkMs >= 20 && chunkMs <= 100)) throw new RangeError(`chunkMs must be 20-100 (got ${chunkMs})`);
    await loadWorklets(context);
    const stream =
      options.stream ??
      (await navigator.mediaDevices.getUserMedia({
        audio: { ...DEFAULT_CONSTRAINTS, ...options.constraints },
      }));
    return new MicrophoneCapture(context, stream, options.stream === undefined, chunkMs, onChunk);
  }

  /** Delivers the partial chunk now (end of a push-to-talk turn); resolves once it has been delivered. */
  flush(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const flushed = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    this.#node.port.postMessage('flush');
    return flushed;
  }

  /** Stops capturing and releases the microphone (the browser's recording indicator goes off). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#node.port.postMessage('stop');
    this.#source.disconnect();
    this.#node.port.onmessage = null;
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
    if (this.#ownsStream) for (const track of this.#stream.getTracks()) track.stop();
  }
}
