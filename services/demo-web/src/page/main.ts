// The demo page: RealtimeVoice against the gateway this server was configured with (or ?gateway=), with
// the user id and talk mode settable from the query string (?user=alice&mode=push-to-talk), and one
// function tool, get_time, that the page answers itself.
import type { ConnectionState, TalkMode } from '@rtv/client';
import { RealtimeVoice } from '@rtv/react-voice';
import { createElement as h, type ReactNode, StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { gatewayBase, ModeSwitch, pageParams as params } from './page-common.js';
import { answerDemoTool, DEMO_TOOLS } from './tools.js';

const initialUser = params.get('user') ?? `demo-${Math.random().toString(36).slice(2, 8)}`;
const initialMode: TalkMode = params.get('mode') === 'push-to-talk' ? 'push-to-talk' : 'hands-free';

function App(): ReactNode {
  const [user, setUser] = useState(initialUser);
  const [state, setState] = useState<ConnectionState>('idle');
  const locked = state === 'open' || state === 'connecting' || state === 'reconnecting';
  const url = `${gatewayBase}/${encodeURIComponent(user)}`;
  return h(
    'div',
    { style: { display: 'flex', flexDirection: 'column', gap: '1rem' } },
    h(ModeSwitch, { current: 'gateway' }),
    h(
      'div',
      { className: 'demo-settings' },
      h(
        'label',
        null,
        'User id',
        h('input', {
          value: user,
          readOnly: locked,
          pattern: '[A-Za-z0-9_.@:\\-]{1,128}',
          onChange: (e: { target: { value: string } }) => setUser(e.target.value),
        }),
      ),
      h('p', { className: 'demo-note' }, 'Gateway: ', h('code', null, gatewayBase)),
    ),
    h(RealtimeVoice, {
      url,
      mode: initialMode,
      title: 'Talk to the assistant',
      tools: DEMO_TOOLS,
      onFunctionCall: answerDemoTool,
      onStateChange: setState,
    }),
    h(
      'p',
      { className: 'demo-note' },
      'Hands-free sends your microphone continuously and the server detects when you stop talking. ',
      'Push to talk sends only while the button (or Space on it) is held. Use headphones to avoid echo.',
    ),
    h(
      'p',
      { className: 'demo-note' },
      'The assistant has one tool, ',
      h('code', null, 'get_time'),
      ', which this page answers from your clock: ask what time it is (the local engine calls a tool when ',
      'a message names it, e.g. "Use get_time Asia/Tokyo"). The call and its answer appear in the log.',
    ),
  );
}

const root = document.getElementById('root');
if (root) createRoot(root).render(h(StrictMode, null, h(App)));
