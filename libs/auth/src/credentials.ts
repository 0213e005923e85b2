import { type AuthFailure, deny } from './result.js';

/** The plain subprotocol a client offers and the server echoes: the public protocol, version 1. */
export const RTV_SUBPROTOCOL = 'rtv.v1';

/**
 * Prefix of the subprotocol entry that carries a bearer token for browsers, which cannot set an
 * `Authorization` header on a WebSocket: `new WebSocket(url, ['rtv.v1', 'rtv.bearer.' + token])`.
 * JWTs (base64url and dots) and our API keys are valid subprotocol characters as they are.
 */
export const BEARER_SUBPROTOCOL_PREFIX = 'rtv.bearer.';

/**
 * Prefix of the subprotocol entry that carries a resume token: `['rtv.v1', 'rtv.resume.' + token]`. The token
 * is a secret that resumes a session, so it stays out of URLs (proxy and access logs keep those) and, like the
 * bearer entry, is never echoed.
 */
export const RESUME_SUBPROTOCOL_PREFIX = 'rtv.resume.';

/**
 * Prefix of the subprotocol entry in which OpenAI's SDKs carry a key from a browser
 * (`['realtime', 'openai-insecure-api-key.' + key]`). On the OpenAI-compatible route it carries the gateway
 * credential instead; like the bearer entry it is never echoed.
 */
export const OPENAI_KEY_SUBPROTOCOL_PREFIX = 'openai-insecure-api-key.';

/** Longest token accepted from any source; longer ones are refused before any crypto runs. */
export const MAX_TOKEN_CHARS = 8192;

// RFC 6750 b64token: the characters a bearer token may use.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const BEARER_HEADER = /^Bearer +(\S+) *$/i;

/** Where the request carried its credential; each field is exactly as the HTTP layer gives it. */
export interface CredentialSources {
  /** `Authorization` header; '' or undefined when absent (uWS returns '' for a missing header). */
  readonly authorization?: string | undefined;
  /** `Sec-WebSocket-Protocol`: one comma-separated string, or one string per header line. */
  readonly secWebSocketProtocol?: string | readonly string[] | undefined;
  /** The query string (with or without the leading `?`), or already-parsed parameters. */
  readonly query?: string | URLSearchParams | undefined;
}

export interface ExtractOptions {
  /**
   * Accept `?access_token=` in the URL. Off by default: URLs end up in proxy logs, browser history and
   * Referer headers, so a token there leaks. Enable only for clients that can do neither a header nor a
   * subprotocol, and then use short-lived tokens.
   * @defaultValue false
   */
  readonly allowQueryToken?: boolean;
  /** Also take the credential from an `openai-insecure-api-key.<token>` entry (the OpenAI-compatible route). */
  readonly openAiKeySubprotocol?: boolean;
}

export interface ExtractedCredentials {
  readonly ok: true;
  readonly token: string;
  readonly source: 'header' | 'subprotocol' | 'query';
  /**
   * The subprotocol to answer with (`''` for none). Never the token entry: echoing it would copy the
   * credential into the response and into whatever logs the handshake.
   */
  readonly echoProtocol: string;
}

/**
 * Finds the single bearer credential of an upgrade request. A request carrying more than one (header and
 * subprotocol, or two subprotocol entries) is refused rather than guessed at, as RFC 6750 §2 asks.
 */
export function extractCredentials(
  sources: CredentialSources,
  options: ExtractOptions = {},
): ExtractedCredentials | AuthFailure {
  const found: { token: string; source: ExtractedCredentials['source'] }[] = [];

  const authorization = sources.authorization?.trim() ?? '';
  if (authorization !== '') {
    const token = BEARER_HEADER.exec(authorization)?.[1];
    if (token === undefined) return deny('malformed');
    found.push({ token, source: 'header' });
  }

  const offered = offeredSubprotocols(sources.secWebSocketProtocol);
  for (const entry of offered) {
    if (entry.startsWith(BEARER_SUBPROTOCOL_PREFIX)) {
      found.push({ token: entry.slice(BEARER_SUBPROTOCOL_PREFIX.length), source: 'subprotocol' });
    } else if (options.openAiKeySubprotocol && entry.startsWith(OPENAI_KEY_SUBPROTOCOL_PREFIX)) {
      found.push({ token: entry.slice(OPENAI_KEY_SUBPROTOCOL_PREFIX.length), source: 'subprotocol' });
    }
  }
  const echoProtocol = selectSubprotocol(offered);
  // A browser that offered protocols fails the handshake unless one of them comes back, and the only one
  // left would be the token entry, which must never be echoed.
  if (found.some((f) => f.source === 'subprotocol') && echoProtocol === '') return deny('protocol_missing');

  const params = queryParams(sources.query);
  const queryTokens = params?.getAll('access_token') ?? [];
  if (queryTokens.length > 0 && !options.allowQueryToken) return deny('query_token_disabled');
  for (const token of queryTokens) found.push({ token, source: 'query' });

  if (found.length === 0) return deny('missing');
  if (found.length > 1) return deny('multiple_credentials');
  const { token, source } = found[0]!;
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || !B64TOKEN.test(token)) return deny('malformed');
  return { ok: true, token, source, echoProtocol };
}

/**
 * The subprotocol to echo for an upgrade: `rtv.v1` when offered, otherwise the first other plain entry
 * (older clients offer their own names and a browser requires one of them back), never a bearer or resume entry;
 * `''` when nothing usable was offered.
 */
export function selectSubprotocol(offered: string | readonly string[] | undefined): string {
  let first = '';
  for (const entry of offeredSubprotocols(offered)) {
    if (
      entry.startsWith(BEARER_SUBPROTOCOL_PREFIX) ||
      entry.startsWith(RESUME_SUBPROTOCOL_PREFIX) ||
      entry.startsWith(OPENAI_KEY_SUBPROTOCOL_PREFIX)
    ) {
      continue;
    }
    if (entry === RTV_SUBPROTOCOL) return entry;
    if (first === '') first = entry;
  }
  return first;
}

/**
 * The resume token offered as `rtv.resume.<token>`: undefined when there is none, `''` when the entry is
 * empty, repeated or too long (the resume is then refused like a wrong token, never guessed at).
 */
export function resumeTokenFromSubprotocols(
  offered: string | readonly string[] | undefined,
): string | undefined {
  const tokens = offeredSubprotocols(offered)
    .filter((entry) => entry.startsWith(RESUME_SUBPROTOCOL_PREFIX))
    .map((entry) => entry.slice(RESUME_SUBPROTOCOL_PREFIX.length));
  if (tokens.length === 0) return undefined;
  return tokens.length === 1 && tokens[0]!.length <= MAX_TOKEN_CHARS ? tokens[0]! : '';
}

/** Splits `Sec-WebSocket-Protocol` values into trimmed, non-empty entries. */
export function offeredSubprotocols(header: string | readonly string[] | undefined): string[] {
  if (header === undefined) return [];
  const lines = typeof header === 'string' ? [header] : header;
  const out: string[] = [];
  for (const line of lines) {
    for (const part of line.split(',')) {
      const entry = part.trim();
      if (entry !== '') out.push(entry);
    }
  }
  return out;
}

function queryParams(query: CredentialSources['query']): URLSearchParams | undefined {
  if (query === undefined) return undefined;
  if (typeof query !== 'string') return query;
  return query === '' ? undefined : new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
}
