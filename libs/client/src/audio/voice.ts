import type { RealtimeVoiceClient } from '../client.js';
import { TypedEmitter } from '../emitter.js';
import { type CapturedChunk, MicrophoneCapture, type MicrophoneOptions } from './capture.js';
import { AudioPlayer, type AudioPlayerOptions, type PlaybackStats } from './player.js';

/**
 * `hands-free`: the microphone is always sent and the server's voice activity detection decides when a turn
 * ends. `push-to-talk`: audio is sent only while talking; releasing commits the turn and asks for a reply
 * (the session runs with `turn_detection: null`).
 */
export type TalkMode = 'hands-free' | 'push-to-talk';

export interface VoiceControllerOptions {
  /** @defaultValue 'hands-free' */
  mode?: TalkMode;
  microphone?: MicrophoneOptions;
  player?: AudioPlayerOptions;
  /** An AudioContext to use (and leave open on `stop()`); by default one is created in `start()`. */
  context?: AudioContext;
}

export interface VoiceEvents {
  /** Input level of every captured chunk (also while not sending), for a meter. */
  level: { peak: number; rms: number };
  /** Playback counters, about ten times a second while playing. */
  playback: PlaybackStats;
  /**
   * Playback was cut because the user started talking. `playedMs` is how much of the reply was heard.
   * The public protocol has no message to report it upstream yet (the server cancels the reply on its own).
   */
  'barge-in': { playedMs: number };
  /** Push-to-talk pressed (true) or released (false). */
  talking: boolean;
  mode: TalkMode;
}

/**
 * Wires a {@link RealtimeVoiceClient} to the microphone and the speakers: sends captured chunks (always in
 * hands-free mode, while talking in push-to-talk), plays `response.audio`, and handles barge-in: on
 * `speech_started` (or a push-to-talk press) playback stops at once and the rest of the interrupted reply,
 * still arriving, is discarded until its `response.done`.
 */
export class VoiceController extends TypedEmitter<VoiceEvents> {
  readonly #client: RealtimeVoiceClient;
  readonly #options: VoiceControllerOptions;
  #mode: TalkMode;
  #context: AudioContext | undefined;
  #ownsContext = false;
  #mic: MicrophoneCapture | undefined;
  #player: AudioPlayer | undefined;
  #talking = false;
  #modePending = false;
  /** Audio of a reply that was barged in on keeps arriving until its response.done; it must not play. */
  #discarding = false;
  #starting: Promise<void> | undefined;
  #unsubscribe: Array<() => void> = [];

  constructor(client: RealtimeVoiceClient, options: VoiceControllerOptions = {}) {
    super();
    this.#client = client;
    this.#options = options;
    this.#mode = options.mode ?? 'hands-free';
    this.#modePending = this.#mode !== 'hands-free';
  }

  get mode(): TalkMode {
    return this.#mode;
  }
  get talking(): boolean {
    return this.#talking;
  }
  get started(): boolean {
    return this.#mic !== undefined;
  }
  get playback(): PlaybackStats | undefined {
    return this.#player?.stats;
  }

  /**
   * Opens the microphone and the audio output. Call it from a user gesture (a click): browsers keep audio
   * suspended until one.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((err: unknown) => {
      this.#starting = undefined;
      this.stop();
      throw err;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const context = this.#options.context ?? new AudioContext({ latencyHint: 'interactive' });
    this.#ownsContext = this.#options.context === undefined;
    this.#context = context;
    await context.resume();
    const player = await AudioPlayer.create(context, this.#options.player);
    this.#player = player;
    this.#unsubscribe.push(player.onStats((stats) => this.emit('playback', stats)));
    const client = this.#client;
    this.#unsubscribe.push(
      client.on('response.audio', (m) => {
        if (!this.#discarding) player.enqueue(m.response.audio);
      }),
      client.on('response.done', () => {
        this.#discarding = false;
        player.end();
      }),
      client.on('input_audio_buffer.speech_started', () => void this.#bargeIn()),
      client.on('open', (event) => {
        // A resumed session goes on (its missed audio is replayed); a new one starts from silence.
        if (event.reconnected && !event.resumed) {
          this.#discarding = false;
          void player.interrupt();
        }
        if (this.#modePending) void this.#applyMode();
      }),
    );
    this.#mic = await MicrophoneCapture.start(
      context,
      (chunk) => this.#onChunk(chunk),
      this.#options.microphone,
    );
    if (this.#modePending && client.state === 'open') await this.#applyMode();
  }

  /** Switches between hands-free and push-to-talk (reconfigures the session's turn detection). */
  async setMode(mode: TalkMode): Promise<void> {
    if (mode === this.#mode) return;
    if (this.#talking) await this.stopTalking();
    this.#mode = mode;
    this.#modePending = true;
    this.emit('mode', mode);
    if (this.#client.state === 'open') await this.#applyMode();
  }

  /** Push-to-talk pressed: interrupts the reply and starts sending the microphone. */
  startTalking(): void {
    if (this.#mode !== 'push-to-talk' || this.#talking) return;
    this.#talking = true;
    this.emit('talking', true);
    void this.#bargeIn();
    if (this.#client.responding && this.#client.state === 'open') this.#client.cancelResponse();
  }

  /** Push-to-talk released: sends the rest of the captured audio, ends the turn and asks for the reply. */
  async stopTalking(): Promise<void> {
    if (!this.#talking) return;
    await this.#mic?.flush();
    this.#talking = false;
    this.emit('talking', false);
    if (this.#client.state !== 'open') return;
    this.#client.commitAudio();
    this.#client.createResponse();
  }

  /** Releases the microphone and the audio output. */
  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#mic?.stop();
    this.#mic = undefined;
    this.#player?.close();
    this.#player = undefined;
    this.#talking = false;
    this.#starting = undefined;
    if (this.#ownsContext) void this.#context?.close();
    this.#context = undefined;
  }

  #onChunk(chunk: CapturedChunk): void {
    this.emit('level', { peak: chunk.peak, rms: chunk.rms });
    if (this.#mode === 'push-to-talk' && !this.#talking) return;
    this.#client.sendAudio(chunk.bytes);
  }

  async #bargeIn(): Promise<void> {
    const player = this.#player;
    if (player === undefined) return;
    // Set before awaiting: audio of the cancelled reply may arrive while the worklet answers.
    if (this.#client.responding) this.#discarding = true;
    const { playedMs, interrupted } = await player.interrupt();
    if (!interrupted) return;
    // The provider is told what was actually played, not what was generated.
    this.#client.truncateResponse(playedMs);
    this.emit('barge-in', { playedMs });
  }

  async #applyMode(): Promise<void> {
    this.#modePending = false;
    const turn_detection = this.#mode === 'hands-free' ? { type: 'server_vad' as const } : null;
    try {
      await this.#client.updateSession({ turn_detection });
    } catch {
      // Reported through the client's `failure` event; try again on the next session.
      this.#modePending = true;
    }
  }
}
