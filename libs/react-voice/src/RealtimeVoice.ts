// Written with createElement (aliased `h`) rather than JSX: the repository compiles TypeScript without a
// JSX transform, and the component is small enough to read this way.
import type { ConnectionState, TalkMode } from '@rtv/client';
import {
  type CSSProperties,
  type FormEvent,
  createElement as h,
  type KeyboardEvent,
  memo,
  type ReactNode,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { REALTIME_VOICE_CSS } from './styles.js';
import type { TranscriptEntry } from './transcript.js';
import { type UseRealtimeVoiceOptions, useRealtimeVoice } from './use-realtime-voice.js';

export interface RealtimeVoiceProps extends UseRealtimeVoiceOptions {
  /** Connect when mounted. Audio then starts on the first click on "Start microphone" (browser policy). */
  autoConnect?: boolean;
  /** Heading of the panel. @defaultValue 'Voice assistant' */
  title?: string;
  /** Added to the root element; theme through the `--rtv-*` CSS variables (see docs/client.md). */
  className?: string;
  style?: CSSProperties;
}

const STATE_LABEL: Record<ConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

const ROLE_LABEL: Record<TranscriptEntry['role'], string> = {
  user: 'You',
  assistant: 'Assistant',
  tool: 'Tool',
  event: 'Session',
  error: 'Error',
};

/**
 * A complete voice conversation panel: connection management, hands-free or push-to-talk audio with a
 * level meter, text input, a live transcript and error display. Keyboard operable; the transcript is an
 * ARIA live log and the connection state a status region.
 */
export function RealtimeVoice(props: RealtimeVoiceProps): ReactNode {
  const voice = useRealtimeVoice(props);
  const { autoConnect, title = 'Voice assistant', className, style } = props;
  const ids = useId();
  const [draft, setDraft] = useState('');
  const autoConnected = useRef(false);
  const { connect } = voice;

  useEffect(() => {
    if (!autoConnect || autoConnected.current) return;
    autoConnected.current = true;
    // Audio needs a user gesture, so only the socket connects here.
    void connect({ audio: false });
  }, [autoConnect, connect]);

  const live = voice.state === 'open' || voice.state === 'connecting' || voice.state === 'reconnecting';
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (text === '' || voice.state !== 'open') return;
    voice.sendText(text);
    setDraft('');
  };
  // Space or Enter held on the focused button talks, like holding the pointer on it.
  const onTalkKey = (event: KeyboardEvent, down: boolean) => {
    if (event.key !== ' ' && event.key !== 'Enter') return;
    event.preventDefault();
    if (down && !event.repeat) voice.startTalking();
    if (!down) voice.stopTalking();
  };
  const seconds = voice.played.sampleRate > 0 ? voice.played.samples / voice.played.sampleRate : 0;

  return h(
    'section',
    {
      className: ['rtv-voice', className].filter(Boolean).join(' '),
      style,
      'aria-labelledby': `${ids}-title`,
      'data-state': voice.state,
      'data-session-id': voice.sessionId,
    },
    h('style', { href: 'rtv-voice-styles', precedence: 'default' }, REALTIME_VOICE_CSS),
    h(
      'header',
      { className: 'rtv-voice__header' },
      h('h2', { id: `${ids}-title`, className: 'rtv-voice__title' }, title),
      h(
        'p',
        { role: 'status', className: 'rtv-voice__status', 'data-state': voice.state },
        h('span', { className: 'rtv-voice__dot', 'aria-hidden': true }),
        STATE_LABEL[voice.state],
        voice.state === 'open' && voice.latencyMs !== undefined
          ? h('span', { className: 'rtv-voice__latency' }, ` · ${Math.round(voice.latencyMs)} ms`)
          : null,
      ),
    ),
    h(
      'div',
      { className: 'rtv-voice__controls' },
      live
        ? h('button', { type: 'button', onClick: () => void voice.disconnect() }, 'Disconnect')
        : h(
            'button',
            { type: 'button', className: 'rtv-voice__primary', onClick: () => void voice.connect() },
            'Connect',
          ),
      voice.state === 'open' && !voice.audioOn
        ? h('button', { type: 'button', onClick: () => void voice.startAudio() }, 'Start microphone')
        : null,
      h(ModePicker, { name: `${ids}-mode`, mode: voice.mode, onChange: voice.setMode }),
    ),
    h(
      'div',
      { className: 'rtv-voice__audio' },
      h(LevelMeter, { level: voice.audioOn ? voice.level : 0, label: 'Microphone level' }),
      voice.mode === 'push-to-talk'
        ? h(
            'button',
            {
              type: 'button',
              className: 'rtv-voice__talk',
              'aria-pressed': voice.talking,
              disabled: !voice.audioOn || voice.state !== 'open',
              onPointerDown: voice.startTalking,
              onPointerUp: voice.stopTalking,
              onPointerLeave: voice.talking ? voice.stopTalking : undefined,
              onPointerCancel: voice.stopTalking,
              onKeyDown: (e: KeyboardEvent) => onTalkKey(e, true),
              onKeyUp: (e: KeyboardEvent) => onTalkKey(e, false),
            },
            voice.talking ? 'Release to send' : 'Hold to talk',
          )
        : null,
      h(
        'p',
        { className: 'rtv-voice__meta', 'data-user-speaking': voice.userSpeaking },
        voice.userSpeaking ? 'Listening… ' : '',
        h(
          'span',
          { 'data-played-samples': voice.played.samples, 'data-output-rate': voice.played.sampleRate },
          `Audio played: ${seconds.toFixed(1)} s`,
        ),
      ),
    ),
    voice.error
      ? h(
          'div',
          { role: 'alert', className: 'rtv-voice__error' },
          h('span', null, voice.error.message),
          h('button', { type: 'button', onClick: voice.dismissError, 'aria-label': 'Dismiss error' }, '×'),
        )
      : null,
    h(TranscriptLog, { entries: voice.entries }),
    h(
      'form',
      { className: 'rtv-voice__form', onSubmit },
      h('label', { htmlFor: `${ids}-text`, className: 'rtv-voice__label' }, 'Message'),
      h('input', {
        id: `${ids}-text`,
        type: 'text',
        value: draft,
        autoComplete: 'off',
        placeholder: 'Type a message',
        maxLength: 16_384,
        onChange: (e: { target: { value: string } }) => setDraft(e.target.value),
      }),
      h('button', { type: 'submit', disabled: voice.state !== 'open' || draft.trim() === '' }, 'Send'),
    ),
  );
}

function ModePicker(props: { name: string; mode: TalkMode; onChange: (mode: TalkMode) => void }): ReactNode {
  const option = (value: TalkMode, label: string) =>
    h(
      'label',
      { className: 'rtv-voice__mode' },
      h('input', {
        type: 'radio',
        name: props.name,
        value,
        checked: props.mode === value,
        onChange: () => props.onChange(value),
      }),
      label,
    );
  return h(
    'fieldset',
    { className: 'rtv-voice__modes' },
    h('legend', null, 'Talk mode'),
    option('hands-free', 'Hands-free'),
    option('push-to-talk', 'Push to talk'),
  );
}

function LevelMeter(props: { level: number; label: string }): ReactNode {
  // RMS is small for speech; a square root spreads it over the bar the way loudness is perceived.
  const percent = Math.round(Math.min(1, Math.sqrt(props.level) * 1.6) * 100);
  return h(
    'div',
    {
      role: 'meter',
      'aria-label': props.label,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': percent,
      className: 'rtv-voice__meter',
    },
    h('div', { className: 'rtv-voice__meter-fill', style: { width: `${percent}%` } }),
  );
}

/** A word on the state of a line, where the styling alone would say it. */
function entryTag(entry: TranscriptEntry): string | undefined {
  if (entry.role === 'assistant' && entry.status === 'cancelled') return 'interrupted';
  if (entry.role === 'tool' && entry.status === 'streaming') return 'running';
  if (entry.role === 'tool' && entry.status === 'failed') return 'failed';
  return undefined;
}

// Memoised: the meter re-renders the panel ~25 times a second, the log only changes with the conversation.
export const TranscriptLog = memo(function TranscriptLog(props: { entries: TranscriptEntry[] }): ReactNode {
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (props.entries.length > 0) end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [props.entries]);
  return h(
    'ol',
    { className: 'rtv-voice__log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' },
    props.entries.map((entry) =>
      h(
        'li',
        {
          key: entry.id,
          className: `rtv-voice__entry rtv-voice__entry--${entry.role}`,
          'data-role': entry.role,
          'data-status': entry.status,
          'data-call-id': entry.callId,
        },
        // The icon is decoration: the "Tool" label says the same in words.
        entry.role === 'tool'
          ? h('span', { className: 'rtv-voice__icon', 'aria-hidden': true }, '🔧 ')
          : null,
        h('span', { className: 'rtv-voice__who' }, ROLE_LABEL[entry.role]),
        h('span', { className: 'rtv-voice__text' }, entry.text),
        entry.detail !== undefined
          ? h('span', { className: 'rtv-voice__detail' }, ` → ${entry.detail}`)
          : null,
        entryTag(entry) ? h('span', { className: 'rtv-voice__tag' }, ` (${entryTag(entry)})`) : null,
      ),
    ),
    h('li', { ref: end, 'aria-hidden': true, className: 'rtv-voice__end' }),
  );
});
