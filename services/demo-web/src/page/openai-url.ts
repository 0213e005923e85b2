// Where the OpenAI SDK mode connects: the gateway's OpenAI-compatible route, found from the seed route's URL
// the page is configured with, so one setting (RTV_DEMO_GATEWAY_URL or ?gateway=) serves both modes.

/** The seed route's path, which the configured gateway URL normally ends with. */
const SEED_PATH = '/api/v1/streaming/realtime';
/** The gateway's OpenAI-compatible route (the path OpenAI's SDKs use on api.openai.com). */
const OPENAI_PATH = '/v1/realtime';
/** The model the demo asks for unless the page's `?model=` names another. */
export const DEFAULT_DEMO_MODEL = 'gpt-realtime';

/**
 * The `/v1/realtime?model=…` URL on the same gateway as `gatewayUrl` (the seed route's ws/wss URL, without
 * the user id). A path prefix in front of the seed route (a gateway behind a proxy that mounts it under
 * `/voice`, say) is kept; anything after it, and the query, are not. Throws a `TypeError` for a URL that
 * does not parse or is not ws/wss.
 */
export function openAiRealtimeUrl(gatewayUrl: string, model: string = DEFAULT_DEMO_MODEL): string {
  const url = new URL(gatewayUrl);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`the gateway URL must be ws:// or wss:// (got ${url.protocol}//)`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const at = path.lastIndexOf(SEED_PATH);
  const prefix = at >= 0 ? path.slice(0, at) : '';
  const target = new URL(`${url.protocol}//${url.host}${prefix}${OPENAI_PATH}`);
  target.searchParams.set('model', model);
  return target.toString();
}
