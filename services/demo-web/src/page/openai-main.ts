// The demo's OpenAI SDK mode (/openai): the same conversation as the main page, but driven by OpenAI's own
// Agents SDK through the gateway's OpenAI-compatible route, to show that a stock OpenAI client works against
// the gateway unchanged. Settable from the query string: ?gateway= (as on the main page) and ?model=.
// First, so that it runs before the SDK's modules load.
import './zod-jitless.js';
import { REALTIME_VOICE_CSS } from '@rtv/react-voice';
import {
  type FormEvent,
  createElement as h,
  type ReactNode,
  StrictMode,
  useEffect,
  useId,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { createRoot } from 'react-dom/client';
import type { SdkLine } from './openai-transcript.js';
import { DEFAULT_DEMO_MODEL, openAiRealtimeUrl } from './openai-url.js';
import { OpenAiSdkVoice, type SdkConnectionState, type SdkVoiceSnapshot } from './openai-voice.js';
import { gatewayBase, ModeSwitch, pageParams } from './page-common.js';

const model = pageParams.get('model') ?? DEFAULT_DEMO_MODEL;
/** Any token works on a gateway with anonymous access on (`npm start`); a fresh one is a fresh user. */
const initialCredential = `demo-${Math.random().toString(36).slice(2, 10)}`;

const STATE_LABEL: Record<SdkConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  closed: 'Disconnected',
};

const ROLE_LABEL: Record<SdkLine['role'], string> = {
  user: 'You',
  assistant: 'Assistant',
  tool: 'Tool',
  event: 'Session',
  error: 'Error',
};

function SdkApp(props: { url: string }): ReactNode {
  const [voice] = useState(() => new OpenAiSdkVoice({ url: props.url, model }));
  const snapshot = useSyncExternalStore(voice.subscribe, voice.getSnapshot);
  const [credential, setCredential] = useState(initialCredential);
  const live = snapshot.state === 'open' || snapshot.state === 'connecting';
  useEffect(() => () => voice.disconnect(), [voice]);
  return h(
    'div',
    { style: { display: 'flex', flexDirection: 'column', gap: '1rem' } },
    h(ModeSwitch, { current: 'openai-sdk' }),
    h(
      'div',
      { className: 'demo-settings' },
      h(
        'label',
        null,
        'Gateway credential',
        h('input', {
          type: 'password',
          value: credential,
          readOnly: live,
          autoComplete: 'off',
          onChange: (e: { target: { value: string } }) => setCredential(e.target.value),
        }),
      ),
      h('p', { className: 'demo-note' }, 'Endpoint: ', h('code', null, props.url)),
    ),
    h(SdkPanel, { voice, snapshot, credential }),
    h(
      'p',
      { className: 'demo-note' },
      'This page runs OpenAI’s Agents SDK (',
      h('code', null, '@openai/agents-realtime'),
      ', RealtimeSession over WebSocket) against the gateway’s OpenAI-compatible route. The credential is a ',
      'gateway JWT or API key, sent the way the SDK sends keys from a browser; with anonymous access on ',
      '(npm start) any value works. Never enter an OpenAI key: the gateway refuses them.',
    ),
  );
}

function SdkPanel(props: {
  voice: OpenAiSdkVoice;
  snapshot: SdkVoiceSnapshot;
  credential: string;
}): ReactNode {
  const { voice, snapshot } = props;
  const ids = useId();
  const [draft, setDraft] = useState('');
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (text === '' || snapshot.state !== 'open') return;
    voice.sendText(text);
    setDraft('');
  };
  return h(
    'section',
    {
      className: 'rtv-voice',
      'aria-labelledby': `${ids}-title`,
      'data-state': snapshot.state,
      'data-session-id': snapshot.sessionId,
    },
    h('style', { href: 'rtv-voice-styles', precedence: 'default' }, REALTIME_VOICE_CSS),
    h(
      'header',
      { className: 'rtv-voice__header' },
      h('h2', { id: `${ids}-title`, className: 'rtv-voice__title' }, 'Talk through the OpenAI Agents SDK'),
      h(
        'p',
        { role: 'status', className: 'rtv-voice__status', 'data-state': snapshot.state },
        h('span', { className: 'rtv-voice__dot', 'aria-hidden': true }),
        STATE_LABEL[snapshot.state],
      ),
    ),
    h(SdkControls, { voice, snapshot, credential: props.credential }),
    h(SdkLog, { lines: snapshot.lines }),
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
      h('button', { type: 'submit', disabled: snapshot.state !== 'open' || draft.trim() === '' }, 'Send'),
    ),
  );
}

/** Connect or disconnect, the microphone, and how much reply audio was played. */
function SdkControls(props: {
  voice: OpenAiSdkVoice;
  snapshot: SdkVoiceSnapshot;
  credential: string;
}): ReactNode {
  const { voice, snapshot } = props;
  const live = snapshot.state === 'open' || snapshot.state === 'connecting';
  const seconds = snapshot.outputRate > 0 ? snapshot.playedSamples / snapshot.outputRate : 0;
  return h(
    'div',
    { className: 'rtv-voice__controls' },
    live
      ? h('button', { type: 'button', onClick: () => voice.disconnect() }, 'Disconnect')
      : h(
          'button',
          {
            type: 'button',
            className: 'rtv-voice__primary',
            disabled: props.credential.trim() === '',
            onClick: () => void voice.connect(props.credential.trim()),
          },
          'Connect',
        ),
    snapshot.state === 'open' && !snapshot.microphoneOn
      ? h('button', { type: 'button', onClick: () => void voice.startMicrophone() }, 'Start microphone')
      : null,
    h(
      'p',
      { className: 'rtv-voice__meta' },
      snapshot.microphoneOn ? 'Microphone on · ' : '',
      h(
        'span',
        { 'data-played-samples': snapshot.playedSamples, 'data-output-rate': snapshot.outputRate },
        `Audio played: ${seconds.toFixed(1)} s`,
      ),
    ),
  );
}

/** The conversation log, with the main page's roles, statuses and styles. */
function SdkLog(props: { lines: SdkLine[] }): ReactNode {
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (props.lines.length > 0) end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [props.lines]);
  return h(
    'ol',
    { className: 'rtv-voice__log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' },
    props.lines.map((line) =>
      h(
        'li',
        {
          key: line.key,
          className: `rtv-voice__entry rtv-voice__entry--${line.role}`,
          'data-role': line.role,
          'data-status': line.status,
        },
        h('span', { className: 'rtv-voice__who' }, ROLE_LABEL[line.role]),
        h('span', { className: 'rtv-voice__text' }, line.text),
        line.detail !== undefined ? h('span', { className: 'rtv-voice__detail' }, ` → ${line.detail}`) : null,
        line.status === 'cancelled' ? h('span', { className: 'rtv-voice__tag' }, ' (interrupted)') : null,
      ),
    ),
    h('li', { ref: end, 'aria-hidden': true, className: 'rtv-voice__end' }),
  );
}

/** The page, or why it cannot start (a gateway URL that is not ws/wss). */
function Page(): ReactNode {
  let url: string;
  try {
    url = openAiRealtimeUrl(gatewayBase, model);
  } catch (err) {
    return h('p', { role: 'alert' }, `Bad gateway URL ${gatewayBase}: ${(err as Error).message}`);
  }
  return h(SdkApp, { url });
}

const root = document.getElementById('root');
if (root) createRoot(root).render(h(StrictMode, null, h(Page)));
