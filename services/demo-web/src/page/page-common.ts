// What both demo pages share: the gateway they talk to and the switch between the two modes.
import { createElement as h, type ReactNode } from 'react';

declare global {
  interface Window {
    /** Written by the server's /config.js from RTV_DEMO_GATEWAY_URL. */
    __RTV_DEMO__?: { gatewayUrl?: string };
  }
}

/** The page's query string (?gateway=, ?user=, ?mode=, ?model=). */
export const pageParams = new URLSearchParams(location.search);

/**
 * The gateway's seed route (without the user id): `?gateway=` on the page, else the server's configuration,
 * else port 8000 on the page's own host.
 */
export const gatewayBase = (
  pageParams.get('gateway') ??
  window.__RTV_DEMO__?.gatewayUrl ??
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname}:8000/api/v1/streaming/realtime`
).replace(/\/+$/, '');

/** The two ways the demo talks to the gateway, and the page of each. */
const MODES = [
  { id: 'gateway', path: '/', label: 'Gateway protocol' },
  { id: 'openai-sdk', path: '/openai', label: 'OpenAI SDK mode' },
] as const;

export type DemoMode = (typeof MODES)[number]['id'];

/** Links to both modes (the current one marked), carrying the query string so ?gateway= stays. */
export function ModeSwitch(props: { current: DemoMode }): ReactNode {
  return h(
    'nav',
    { className: 'demo-modes', 'aria-label': 'Demo mode' },
    MODES.map((mode) =>
      h(
        'a',
        {
          key: mode.id,
          href: `${mode.path}${location.search}`,
          'aria-current': mode.id === props.current ? 'page' : undefined,
        },
        mode.label,
      ),
    ),
  );
}
