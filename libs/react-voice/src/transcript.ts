import type { RealtimeClientError, ServerMessage } from '@rtv/client';

/** One line of the conversation log. */
export interface TranscriptEntry {
  id: number;
  /** `event` lines narrate the session (speech detected, reconnected); `error` lines report failures. */
  role: 'user' | 'assistant' | 'event' | 'error';
  text: string;
  /** Assistant replies stream in: `streaming` until their `response.done`. */
  status?: 'streaming' | 'done' | 'cancelled' | 'failed';
  /** Milliseconds since the epoch. */
  at: number;
}

/** What can happen to the log. */
export type TranscriptAction =
  | { type: 'user-text'; text: string }
  /** A push-to-talk turn (no server VAD events then), with how long the button was held. */
  | { type: 'user-voice'; seconds: number }
  | { type: 'server'; message: ServerMessage }
  | { type: 'event'; text: string }
  | { type: 'failure'; error: Pick<RealtimeClientError, 'code' | 'message'> }
  | { type: 'clear' };

export interface Transcript {
  entries: TranscriptEntry[];
  nextId: number;
  /** When the user's current utterance started (server VAD), to say how long it was. */
  speechStartMs: number | undefined;
}

/** Oldest lines are dropped beyond this, so a long session does not grow the page without bound. */
export const MAX_ENTRIES = 200;

export const EMPTY_TRANSCRIPT: Transcript = { entries: [], nextId: 1, speechStartMs: undefined };

/** Pure reducer for the conversation log (`useReducer`-compatible). */
export function transcriptReducer(state: Transcript, action: TranscriptAction, now = Date.now()): Transcript {
  switch (action.type) {
    case 'clear':
      return { ...EMPTY_TRANSCRIPT, nextId: state.nextId };
    case 'user-text':
      return append(state, { role: 'user', text: action.text, at: now });
    case 'user-voice':
      return append(state, { role: 'user', text: `Voice message (${action.seconds.toFixed(1)} s)`, at: now });
    case 'event':
      return append(state, { role: 'event', text: action.text, at: now });
    case 'failure':
      return append(state, {
        role: 'error',
        text: `${action.error.message} (${action.error.code})`,
        at: now,
      });
    case 'server':
      return onServerMessage(state, action.message, now);
  }
}

function onServerMessage(state: Transcript, message: ServerMessage, now: number): Transcript {
  switch (message.type) {
    case 'response.delta': {
      const last = state.entries.at(-1);
      if (last?.role === 'assistant' && last.status === 'streaming') {
        return replaceLast(state, { ...last, text: last.text + message.response.delta.content });
      }
      return append(state, {
        role: 'assistant',
        text: message.response.delta.content,
        status: 'streaming',
        at: now,
      });
    }
    case 'response.audio': {
      // An audio-only reply (no transcript) still gets its line.
      const last = state.entries.at(-1);
      if (last?.role === 'assistant' && last.status === 'streaming') return state;
      return append(state, { role: 'assistant', text: '', status: 'streaming', at: now });
    }
    case 'response.done': {
      const last = state.entries.at(-1);
      const status =
        message.response.status === 'cancelled'
          ? 'cancelled'
          : message.response.status === 'failed'
            ? 'failed'
            : 'done';
      if (last?.role === 'assistant' && last.status === 'streaming') {
        return replaceLast(state, { ...last, status, text: last.text || '(spoken reply)' });
      }
      return state;
    }
    case 'input_audio_buffer.speech_started':
      return {
        ...append(state, { role: 'event', text: 'Speech detected', at: now }),
        speechStartMs: message.audio_start_ms,
      };
    case 'input_audio_buffer.speech_stopped': {
      const start = state.speechStartMs;
      const seconds = start === undefined ? undefined : Math.max(0, message.audio_end_ms - start) / 1000;
      const text = seconds === undefined ? 'Voice message' : `Voice message (${seconds.toFixed(1)} s)`;
      return { ...append(state, { role: 'user', text, at: now }), speechStartMs: undefined };
    }
    case 'session.notice':
      return append(state, { role: 'event', text: message.notice.message, at: now });
    default:
      return state;
  }
}

function append(state: Transcript, entry: Omit<TranscriptEntry, 'id'>): Transcript {
  const entries = [...state.entries, { ...entry, id: state.nextId }];
  return {
    ...state,
    entries: entries.length > MAX_ENTRIES ? entries.slice(-MAX_ENTRIES) : entries,
    nextId: state.nextId + 1,
  };
}

function replaceLast(state: Transcript, entry: TranscriptEntry): Transcript {
  return { ...state, entries: [...state.entries.slice(0, -1), entry] };
}
