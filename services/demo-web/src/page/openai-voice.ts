// The OpenAI SDK mode's engine: OpenAI's own Agents SDK (@openai/agents-realtime) in the browser, connected
// over its WebSocket transport to the gateway's OpenAI-compatible route instead of api.openai.com, with the
// page's audio player and microphone capture. Framework-free; the React page renders its snapshots.
import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';
import { AudioPlayer, MicrophoneCapture } from '@rtv/client';
import { describeError, MAX_SDK_LINES, mergeHistory, type SdkLine } from './openai-transcript.js';
import { DEMO_TOOLS, getTime } from './tools.js';

/** `idle` before the first connect; `closed` after a disconnect, a refusal or a lost connection. */
export type SdkConnectionState = 'idle' | 'connecting' | 'open' | 'closed';

/** What the page shows; a new object whenever something changed (for `useSyncExternalStore`). */
export interface SdkVoiceSnapshot {
  state: SdkConnectionState;
  lines: SdkLine[];
  /** The gateway's session id, from `session.created`. */
  sessionId: string | undefined;
  /** Samples of reply audio that reached the output, and the output's rate (0 without audio). */
  playedSamples: number;
  outputRate: number;
  microphoneOn: boolean;
}

export interface SdkVoiceOptions {
  /** The gateway's `ws(s)://…/v1/realtime?model=…` URL. */
  url: string;
  model: string;
}

const INITIAL: SdkVoiceSnapshot = {
  state: 'idle',
  lines: [],
  sessionId: undefined,
  playedSamples: 0,
  outputRate: 0,
  microphoneOn: false,
};

/** The demo's get_time tool as an Agents SDK tool: the SDK runs it in the browser when the model calls it. */
const getTimeTool = tool({
  name: 'get_time',
  description: DEMO_TOOLS[0]!.description ?? '',
  parameters: {
    type: 'object',
    properties: { timezone: { type: 'string', description: "IANA time zone; empty for the user's own." } },
    required: [],
    additionalProperties: true,
  },
  strict: false,
  execute: (args) => JSON.stringify(getTime(args)),
});

/**
 * One conversation through the Agents SDK: `RealtimeSession` with an `OpenAIRealtimeWebSocket` transport
 * pointed at the gateway. The gateway credential travels as the SDK's browser subprotocol
 * (`openai-insecure-api-key.<credential>`, hence `useInsecureApiKey`): the gateway takes its own
 * credentials there and refuses OpenAI keys, so no provider key is ever in the page. The WebSocket
 * transport leaves audio to the application: reply audio goes to the page's AudioWorklet player, and the
 * microphone (when started) to `sendAudio`.
 */
export class OpenAiSdkVoice {
  readonly #options: SdkVoiceOptions;
  #snapshot: SdkVoiceSnapshot = INITIAL;
  readonly #listeners = new Set<() => void>();
  #session: RealtimeSession | undefined;
  #context: AudioContext | undefined;
  #player: AudioPlayer | undefined;
  #microphone: MicrophoneCapture | undefined;
  #notes = 0;

  constructor(options: SdkVoiceOptions) {
    this.#options = options;
  }

  /** For `useSyncExternalStore`: calls `listener` after every change. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  readonly getSnapshot = (): SdkVoiceSnapshot => this.#snapshot;

  /**
   * Connects with `credential` (a gateway JWT or API key; with anonymous access on, any other token).
   * Call it from a click: the audio output is created here, and browsers allow sound only after a gesture.
   * Failures are shown in the log, not thrown.
   */
  async connect(credential: string): Promise<void> {
    if (this.#snapshot.state === 'connecting' || this.#snapshot.state === 'open') return;
    // Created before the first await, while the click still counts as a user gesture.
    this.#context ??= new AudioContext();
    void this.#context.resume();
    const session = this.#createSession();
    this.#session = session;
    this.#update({ state: 'connecting', sessionId: undefined });
    await this.#preparePlayer(this.#context);
    // Disconnected while the player was being made: this attempt is over.
    if (this.#session !== session) return;
    try {
      await session.connect({ apiKey: credential, url: this.#options.url });
    } catch (err) {
      if (this.#session !== session) return;
      // A refused or unreachable socket fails with a bare Event: browsers do not say why (no HTTP status).
      const why =
        err instanceof Event ? 'the gateway refused the connection or cannot be reached' : describeError(err);
      this.#note('error', `Could not connect: ${why}`);
      this.#session = undefined;
      session.close();
      this.#update({ state: 'closed' });
    }
  }

  /** Sends a typed user message; the SDK asks for the reply. */
  sendText(text: string): void {
    if (this.#snapshot.state !== 'open') return;
    this.#session?.sendMessage(text);
  }

  /** Starts sending the microphone (server VAD finds the turns); its failure is shown in the log. */
  async startMicrophone(): Promise<void> {
    const context = this.#context;
    const session = this.#session;
    if (!context || !session || this.#microphone || this.#snapshot.state !== 'open') return;
    try {
      const microphone = await MicrophoneCapture.start(context, (chunk) => {
        if (this.#session === session && this.#snapshot.state === 'open') {
          session.sendAudio(chunk.bytes.slice().buffer);
        }
      });
      // The conversation ended (or another start won) while the browser asked for the microphone.
      if (this.#session !== session || this.#microphone) {
        microphone.stop();
        return;
      }
      this.#microphone = microphone;
      this.#update({ microphoneOn: true });
    } catch (err) {
      this.#note('error', `Microphone unavailable: ${describeError(err)}`);
    }
  }

  /** Closes the conversation (the audio output stays, for the next one). */
  disconnect(): void {
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    this.#stopMicrophone();
    void this.#player?.interrupt();
    session.close();
    this.#note('event', 'Disconnected');
    this.#update({ state: 'closed' });
  }

  #createSession(): RealtimeSession {
    const agent = new RealtimeAgent({
      name: 'assistant',
      instructions: 'You are a friendly voice assistant. Keep answers short.',
      tools: [getTimeTool],
    });
    const transport = new OpenAIRealtimeWebSocket({ useInsecureApiKey: true, url: this.#options.url });
    const session = new RealtimeSession(agent, {
      transport,
      model: this.#options.model,
      // Traces would go to api.openai.com, which the page's policy (and the point of the gateway) forbids.
      tracingDisabled: true,
    });
    const current = () => this.#session === session;
    session.on('history_updated', (history) => {
      if (current()) this.#update({ lines: mergeHistory(this.#snapshot.lines, history) });
    });
    session.on('audio', (event) => {
      if (current()) this.#player?.enqueue(new Uint8Array(event.data));
    });
    session.on('audio_stopped', () => this.#player?.end());
    session.on('audio_interrupted', () => void this.#player?.interrupt());
    session.on('error', ({ error }) => {
      if (current() && !(error instanceof Event)) this.#note('error', describeError(error));
    });
    session.on('transport_event', (event) => {
      if (current() && event.type === 'session.created') {
        const id = (event as { session?: { id?: unknown } }).session?.id;
        this.#update({ sessionId: typeof id === 'string' ? id : undefined });
      }
    });
    transport.on('connection_change', (status) => {
      if (!current()) return;
      if (status === 'connecting') this.#watchClose(session, transport);
      if (status === 'connected') {
        this.#update({ state: 'open' });
        this.#note('event', 'Connected');
      }
    });
    return session;
  }

  /**
   * Follows the socket's close, which the SDK does not report with its code: the line says why the
   * conversation ended (a refused credential, a refused model, a lost gateway).
   */
  #watchClose(session: RealtimeSession, transport: OpenAIRealtimeWebSocket): void {
    const socket = transport.connectionState.websocket;
    if (!socket) return;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
    });
    // Typed loosely: the SDK's declarations describe Node's `ws` socket, the page gets the browser's.
    socket.addEventListener('close', (event: { code: number; reason: string }) => {
      if (this.#session !== session) return;
      const why = event.reason ? `${event.code} ${event.reason}` : String(event.code);
      if (!opened) this.#note('error', `Could not connect (${why})`);
      else this.#note(event.code === 1000 ? 'event' : 'error', `Connection closed (${why})`);
      this.#session = undefined;
      this.#stopMicrophone();
      this.#update({ state: 'closed' });
    });
  }

  /** Creates the audio player once; without it (no AudioWorklet here) the conversation goes on as text. */
  async #preparePlayer(context: AudioContext): Promise<void> {
    if (this.#player) return;
    try {
      this.#player = await AudioPlayer.create(context);
      this.#player.onStats((stats) =>
        this.#update({ playedSamples: stats.totalPlayedSamples, outputRate: stats.outputSampleRate }),
      );
      this.#update({ outputRate: context.sampleRate });
    } catch (err) {
      this.#note('error', `Audio playback unavailable: ${describeError(err)}`);
    }
  }

  #stopMicrophone(): void {
    this.#microphone?.stop();
    this.#microphone = undefined;
    if (this.#snapshot.microphoneOn) this.#update({ microphoneOn: false });
  }

  #note(role: 'event' | 'error', text: string): void {
    const line: SdkLine = { key: `note-${++this.#notes}`, role, text };
    this.#update({ lines: [...this.#snapshot.lines, line].slice(-MAX_SDK_LINES) });
  }

  #update(change: Partial<SdkVoiceSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...change };
    for (const listener of this.#listeners) listener();
  }
}
