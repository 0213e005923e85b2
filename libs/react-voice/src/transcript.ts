import type { RealtimeClientError, ServerMessage } from '@rtv/client';

/** One line of the conversation log. */
export interface TranscriptEntry {
  id: number;
  /**
   * `event` lines narrate the session (speech detected, reconnected); `error` lines report failures; `tool`
   * lines show a function call of the model and, once answered, its output.
   */
  role: 'user' | 'assistant' | 'tool' | 'event' | 'error';
  text: string;
  /**
   * Assistant replies stream in: `streaming` until their `response.done`. A user's spoken turn is
   * `streaming` while its transcript fills and `done` with the final text. A tool line is `streaming` until
   * answered, then `done` or `failed`.
   */
  status?: 'streaming' | 'done' | 'cancelled' | 'failed';
  /** Milliseconds since the epoch. */
  at: number;
  /** A spoken user turn still showing "Voice message (…)": the next new transcript fills this line. */
  awaitingTranscript?: boolean;
  /** The user input item whose transcript this line shows (`conversation.item.transcript`). */
  itemId?: string;
  /** The function call a `tool` line shows. */
  callId?: string;
  /** A `tool` line's output, once answered. */
  detail?: string;
}

/** What can happen to the log. */
export type TranscriptAction =
  | { type: 'user-text'; text: string }
  /** A push-to-talk turn (no server VAD events then), with how long the button was held. */
  | { type: 'user-voice'; seconds: number }
  | { type: 'server'; message: ServerMessage }
  /** The client answered a function call (the SDK's `functionCallOutput` event). */
  | { type: 'tool-output'; callId: string; output: string; failed: boolean }
  | { type: 'event'; text: string }
  | { type: 'failure'; error: Pick<RealtimeClientError, 'code' | 'message'> }
  | { type: 'clear' };

export interface Transcript {
  entries: TranscriptEntry[];
  nextId: number;
  /** When the user's current utterance started (server VAD), to say how long it was. */
  speechStartMs: number | undefined;
  /** The line of the reply in progress: its deltas go there even when other lines came in between. */
  replyId: number | undefined;
  /** The session the log is following (a different one after a reconnect means a new conversation). */
  sessionId: string | undefined;
}

/** Oldest lines are dropped beyond this, so a long session does not grow the page without bound. */
export const MAX_ENTRIES = 200;
/** Longest call arguments and tool output shown on a tool line. */
export const MAX_TOOL_TEXT = 200;

export const EMPTY_TRANSCRIPT: Transcript = {
  entries: [],
  nextId: 1,
  speechStartMs: undefined,
  replyId: undefined,
  sessionId: undefined,
};

/** Pure reducer for the conversation log (`useReducer`-compatible). */
export function transcriptReducer(state: Transcript, action: TranscriptAction, now = Date.now()): Transcript {
  switch (action.type) {
    case 'clear':
      return { ...EMPTY_TRANSCRIPT, nextId: state.nextId, sessionId: state.sessionId };
    case 'user-text':
      return append(state, { role: 'user', text: action.text, at: now });
    case 'user-voice':
      return append(state, {
        role: 'user',
        text: `Voice message (${action.seconds.toFixed(1)} s)`,
        awaitingTranscript: true,
        at: now,
      });
    case 'tool-output':
      return update(
        state,
        (e) => e.role === 'tool' && e.callId === action.callId,
        (e) => ({
          ...e,
          detail: clip(action.output, MAX_TOOL_TEXT),
          status: action.failed ? 'failed' : 'done',
        }),
      );
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
    case 'session.created':
      return onSession(state, message.session.id);
    case 'response.delta': {
      const content = message.response.delta.content;
      const reply = currentReply(state);
      if (reply)
        return update(
          state,
          (e) => e.id === reply.id,
          (e) => ({ ...e, text: e.text + content }),
        );
      return startReply(state, content, now);
    }
    case 'response.audio':
      // An audio-only reply (no transcript) still gets its line.
      return currentReply(state) ? state : startReply(state, '', now);
    case 'response.done': {
      const reply = currentReply(state);
      if (reply === undefined) return state;
      const status =
        message.response.status === 'cancelled'
          ? 'cancelled'
          : message.response.status === 'failed'
            ? 'failed'
            : 'done';
      return {
        ...update(
          state,
          (e) => e.id === reply.id,
          (e) => ({ ...e, status, text: e.text || '(spoken reply)' }),
        ),
        replyId: undefined,
      };
    }
    case 'response.function_call': {
      const { call_id: callId, name, arguments: args } = message.response;
      // A call delivered again (a resumed session) keeps its one line.
      if (state.entries.some((e) => e.role === 'tool' && e.callId === callId)) return state;
      return append(state, {
        role: 'tool',
        text: `${name}(${clip(args, MAX_TOOL_TEXT)})`,
        callId,
        status: 'streaming',
        at: now,
      });
    }
    case 'conversation.item.transcript':
      return onUserTranscript(state, message.conversation_item_transcript, now);
    case 'input_audio_buffer.speech_started':
      return {
        ...append(state, { role: 'event', text: 'Speech detected', at: now }),
        speechStartMs: message.audio_start_ms,
      };
    case 'input_audio_buffer.speech_stopped': {
      const start = state.speechStartMs;
      const seconds = start === undefined ? undefined : Math.max(0, message.audio_end_ms - start) / 1000;
      const text = seconds === undefined ? 'Voice message' : `Voice message (${seconds.toFixed(1)} s)`;
      return {
        ...append(state, { role: 'user', text, awaitingTranscript: true, at: now }),
        speechStartMs: undefined,
      };
    }
    case 'session.notice':
      return append(state, { role: 'event', text: message.notice.message, at: now });
    default:
      return state;
  }
}

/**
 * A session opened. The same session (a resume) goes on where it was; another one is a new conversation:
 * the reply in progress will not continue and earlier spoken turns will get no transcript.
 */
function onSession(state: Transcript, sessionId: string): Transcript {
  if (state.sessionId === undefined || state.sessionId === sessionId) return { ...state, sessionId };
  const entries = state.entries.map((e) => {
    if (e.id === state.replyId && e.status === 'streaming') return { ...e, status: 'cancelled' as const };
    if (e.awaitingTranscript) return { ...e, awaitingTranscript: undefined };
    return e;
  });
  return { ...state, entries, sessionId, replyId: undefined, speechStartMs: undefined };
}

/**
 * The user's speech as text: pieces fill the turn's line, the final text replaces them. The first message of
 * a new item takes over the oldest spoken turn still showing "Voice message (…)" (transcripts come in turn
 * order; the speech events carry no item id to match), else it gets a line of its own.
 */
function onUserTranscript(
  state: Transcript,
  t: { item_id: string; text: string; final: boolean },
  now: number,
): Transcript {
  const line =
    state.entries.find((e) => e.itemId === t.item_id) ?? state.entries.find((e) => e.awaitingTranscript);
  if (line === undefined) {
    if (t.text.trim() === '') return state;
    return append(state, {
      role: 'user',
      text: t.text,
      itemId: t.item_id,
      status: t.final ? 'done' : 'streaming',
      at: now,
    });
  }
  // The final text is already shown: a repeated delivery changes nothing.
  if (line.itemId === t.item_id && line.status === 'done') return state;
  const pieces = line.status === 'streaming' ? line.text : '';
  const text = !t.final
    ? pieces + t.text
    : t.text.trim() !== ''
      ? t.text
      : line.text || '(nothing recognised)';
  return update(
    state,
    (e) => e.id === line.id,
    (e) => ({
      ...e,
      text,
      itemId: t.item_id,
      status: t.final ? 'done' : 'streaming',
      awaitingTranscript: undefined,
    }),
  );
}

function currentReply(state: Transcript): TranscriptEntry | undefined {
  if (state.replyId === undefined) return undefined;
  return state.entries.find((e) => e.id === state.replyId && e.status === 'streaming');
}

function startReply(state: Transcript, text: string, now: number): Transcript {
  const id = state.nextId;
  return { ...append(state, { role: 'assistant', text, status: 'streaming', at: now }), replyId: id };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function append(state: Transcript, entry: Omit<TranscriptEntry, 'id'>): Transcript {
  const entries = [...state.entries, { ...entry, id: state.nextId }];
  return {
    ...state,
    entries: entries.length > MAX_ENTRIES ? entries.slice(-MAX_ENTRIES) : entries,
    nextId: state.nextId + 1,
  };
}

/** Replaces the first entry `match` finds with `change(entry)`; unchanged state when none matches. */
function update(
  state: Transcript,
  match: (entry: TranscriptEntry) => boolean,
  change: (entry: TranscriptEntry) => TranscriptEntry,
): Transcript {
  const index = state.entries.findIndex(match);
  if (index < 0) return state;
  const entries = state.entries.slice();
  entries[index] = change(entries[index]!);
  return { ...state, entries };
}
