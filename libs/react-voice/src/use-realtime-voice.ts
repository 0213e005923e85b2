import {
  type ConnectionState,
  type FunctionCall,
  type FunctionTool,
  type RealtimeClientError,
  type RealtimeClientOptions,
  RealtimeVoiceClient,
  type ServerMessage,
  type SessionUpdate,
  type TalkMode,
  VoiceController,
  type VoiceControllerOptions,
} from '@rtv/client';
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import {
  EMPTY_TRANSCRIPT,
  type TranscriptAction,
  type TranscriptEntry,
  transcriptReducer,
} from './transcript.js';

export interface UseRealtimeVoiceOptions {
  /** Gateway endpoint, e.g. `wss://voice.example.com/api/v1/streaming/realtime/<user_id>`. */
  url: string;
  /** Bearer token for the authenticated route (sent in the browser form, see docs/client.md). */
  token?: string;
  /** Session configuration applied to every session (voice, instructions, …). */
  session?: SessionUpdate;
  /** Function tools the model may call (sent with `session`; read when the client is created). */
  tools?: FunctionTool[];
  /**
   * Answers the model's function calls, as the client's `onFunctionCall` option: the return value (or
   * resolved value) is the output, a throw answers `{"error":"<message>"}`. The latest function is called,
   * so it may change between renders; it must be set when the client is created for calls to be answered.
   */
  onFunctionCall?: (call: FunctionCall) => unknown;
  /** @defaultValue 'hands-free' */
  mode?: TalkMode;
  /** Microphone chunk duration, 20–100 ms. @defaultValue 40 */
  chunkMs?: number;
  /**
   * Extra client options (reconnect tuning, timeouts). Latency is measured every 5 s unless
   * `heartbeatIntervalMs` says otherwise.
   */
  clientOptions?: Partial<
    Omit<RealtimeClientOptions, 'url' | 'token' | 'session' | 'tools' | 'onFunctionCall'>
  >;
  /** Every server message. */
  onMessage?: (message: ServerMessage) => void;
  /** Every failure the client reports, and microphone errors. */
  onError?: (error: RealtimeClientError | Error) => void;
  onStateChange?: (state: ConnectionState) => void;
}

export interface RealtimeVoice {
  state: ConnectionState;
  sessionId: string | undefined;
  /** Last measured round trip to the gateway. */
  latencyMs: number | undefined;
  entries: TranscriptEntry[];
  /** The last failure, until `dismissError()`. */
  error: RealtimeClientError | Error | undefined;
  mode: TalkMode;
  /** Microphone and speakers are running. */
  audioOn: boolean;
  /** Push-to-talk is held. */
  talking: boolean;
  /** The server hears the user speaking (between speech started and stopped). */
  userSpeaking: boolean;
  /** Input level (RMS, 0–1) of the last captured chunk. */
  level: number;
  /** Samples of reply audio that reached the output, and at which rate. */
  played: { samples: number; sampleRate: number };
  /**
   * Connects and starts audio. Call it from a click: browsers only allow audio after a user gesture.
   * `{ audio: false }` connects the socket only (text chat; `startAudio()` later).
   */
  connect(options?: { audio?: boolean }): Promise<void>;
  disconnect(): Promise<void>;
  /** Starts the microphone and speakers on an open connection (when `connect` could not, or audio was off). */
  startAudio(): Promise<void>;
  /** Sends a typed message; during a reply it is answered after it, unless `interrupt` cancels the reply. */
  sendText(text: string, options?: { interrupt?: boolean }): void;
  setMode(mode: TalkMode): void;
  startTalking(): void;
  stopTalking(): void;
  dismissError(): void;
  clearTranscript(): void;
}

/**
 * The options the hook creates its client with. `onFunctionCall` is read from `latest` when a call comes,
 * so a handler that changes between renders needs no new client.
 */
export function realtimeClientOptions(latest: {
  readonly current: UseRealtimeVoiceOptions;
}): RealtimeClientOptions {
  const { url, token, session, tools, clientOptions } = latest.current;
  const onFunctionCall = latest.current.onFunctionCall
    ? (call: FunctionCall) => {
        const handler = latest.current.onFunctionCall;
        if (handler === undefined) throw new Error(`no handler for ${call.name}`);
        return handler(call);
      }
    : undefined;
  return { heartbeatIntervalMs: 5000, ...clientOptions, url, token, session, tools, onFunctionCall };
}

function reducer(state: typeof EMPTY_TRANSCRIPT, action: TranscriptAction) {
  return transcriptReducer(state, action);
}

/**
 * The state and actions of a realtime voice conversation, for building a custom UI; `RealtimeVoice` is
 * this hook with a ready-made one. One client per mounted hook; a new `url` or `token` starts over.
 */
export function useRealtimeVoice(options: UseRealtimeVoiceOptions): RealtimeVoice {
  const [transcript, dispatch] = useReducer(reducer, EMPTY_TRANSCRIPT);
  const [state, setState] = useState<ConnectionState>('idle');
  const [sessionId, setSessionId] = useState<string>();
  const [latencyMs, setLatency] = useState<number>();
  const [error, setError] = useState<RealtimeClientError | Error>();
  const [mode, setModeState] = useState<TalkMode>(options.mode ?? 'hands-free');
  const [audioOn, setAudioOn] = useState(false);
  const [talking, setTalking] = useState(false);
  const [userSpeaking, setUserSpeaking] = useState(false);
  const [level, setLevel] = useState(0);
  const [played, setPlayed] = useState({ samples: 0, sampleRate: 0 });
  const clientRef = useRef<RealtimeVoiceClient | undefined>(undefined);
  const voiceRef = useRef<VoiceController | undefined>(undefined);
  // Callbacks and settings are read through a ref so that changing them does not reconnect.
  const latest = useRef(options);
  latest.current = options;
  const modeRef = useRef(mode);
  modeRef.current = mode;

  const reportError = useCallback((err: RealtimeClientError | Error) => {
    setError(err);
    latest.current.onError?.(err);
  }, []);

  const client = useCallback((): RealtimeVoiceClient => {
    if (clientRef.current) return clientRef.current;
    const c = new RealtimeVoiceClient(realtimeClientOptions(latest));
    c.on('state', ({ state: next }) => {
      setState(next);
      latest.current.onStateChange?.(next);
    });
    c.on('message', (message) => {
      dispatch({ type: 'server', message });
      if (message.type === 'input_audio_buffer.speech_started') setUserSpeaking(true);
      if (message.type === 'input_audio_buffer.speech_stopped') setUserSpeaking(false);
      latest.current.onMessage?.(message);
    });
    c.on('open', (open) => {
      setSessionId(open.session.id);
      if (open.reconnected) {
        dispatch({ type: 'event', text: open.resumed ? 'Reconnected' : 'Reconnected (new session)' });
      }
      c.ping().then(setLatency, () => undefined);
    });
    c.on('reconnecting', ({ delayMs, attempt, closeCode }) => {
      setUserSpeaking(false);
      dispatch({
        type: 'event',
        text: `Connection lost (${closeCode}); reconnecting in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt})`,
      });
    });
    c.on('latency', setLatency);
    c.on('functionCallOutput', ({ callId, output, failed }) =>
      dispatch({ type: 'tool-output', callId, output, failed }),
    );
    c.on('failure', (failure) => {
      dispatch({ type: 'failure', error: failure });
      reportError(failure);
    });
    clientRef.current = c;
    return c;
  }, [reportError]);

  const startAudio = useCallback(async () => {
    if (voiceRef.current?.started) return;
    const voiceOptions: VoiceControllerOptions = {
      mode: modeRef.current,
      microphone: { chunkMs: latest.current.chunkMs ?? 40 },
    };
    const voice = new VoiceController(client(), voiceOptions);
    voiceRef.current = voice;
    voice.on('level', ({ rms }) => setLevel(rms));
    voice.on('playback', (stats) =>
      setPlayed({ samples: stats.totalPlayedSamples, sampleRate: stats.outputSampleRate }),
    );
    let talkStarted = 0;
    voice.on('talking', (held) => {
      setTalking(held);
      if (held) talkStarted = performance.now();
      else dispatch({ type: 'user-voice', seconds: (performance.now() - talkStarted) / 1000 });
    });
    voice.on('barge-in', ({ playedMs }) =>
      dispatch({ type: 'event', text: `Reply interrupted after ${(playedMs / 1000).toFixed(1)} s` }),
    );
    try {
      await voice.start();
      setAudioOn(true);
    } catch (err) {
      voiceRef.current = undefined;
      const name = err instanceof Error ? err.name : '';
      const message =
        name === 'NotAllowedError'
          ? 'Microphone permission was denied'
          : `Audio unavailable (${String(err)})`;
      dispatch({ type: 'event', text: `${message}; text chat still works` });
      reportError(err instanceof Error ? err : new Error(message));
    }
  }, [client, reportError]);

  const connect = useCallback(
    async ({ audio: withAudio = true }: { audio?: boolean } = {}) => {
      setError(undefined);
      // Audio first, while the click's user activation is fresh; the socket connects at the same time.
      const audio = withAudio ? startAudio() : undefined;
      try {
        await client().connect();
      } catch {
        // Reported through the client's `failure` event.
      }
      await audio;
    },
    [client, startAudio],
  );

  const disconnect = useCallback(async () => {
    voiceRef.current?.stop();
    voiceRef.current = undefined;
    setAudioOn(false);
    setTalking(false);
    setUserSpeaking(false);
    setLevel(0);
    await clientRef.current?.close();
  }, []);

  // A new endpoint or identity means a new client: close the old one (also on unmount).
  // biome-ignore lint/correctness/useExhaustiveDependencies: url and token are the trigger, read via `latest`
  useEffect(() => {
    return () => {
      voiceRef.current?.stop();
      voiceRef.current = undefined;
      void clientRef.current?.close();
      clientRef.current = undefined;
    };
  }, [options.url, options.token]);

  const sendText = useCallback(
    (text: string, sendOptions?: { interrupt?: boolean }) => {
      try {
        client().sendText(text, sendOptions);
        dispatch({ type: 'user-text', text });
      } catch (err) {
        reportError(err as Error);
      }
    },
    [client, reportError],
  );

  const setMode = useCallback(
    (next: TalkMode) => {
      setModeState(next);
      voiceRef.current?.setMode(next).catch(reportError);
    },
    [reportError],
  );

  return {
    state,
    sessionId,
    latencyMs,
    entries: transcript.entries,
    error,
    mode,
    audioOn,
    talking,
    userSpeaking,
    level,
    played,
    connect,
    disconnect,
    startAudio,
    sendText,
    setMode,
    startTalking: useCallback(() => voiceRef.current?.startTalking(), []),
    stopTalking: useCallback(() => void voiceRef.current?.stopTalking().catch(reportError), [reportError]),
    dismissError: useCallback(() => setError(undefined), []),
    clearTranscript: useCallback(() => dispatch({ type: 'clear' }), []),
  };
}
