/**
 * The gateway's rule for user ids (the seed's `/{user_id}` route uses the same one): 1–128 characters of
 * letters, digits and `_ . @ : -`. Safe in a URL path segment, a Redis key and a log field without escaping;
 * it admits e-mail-like ids and `tenant:user` forms but no braces, so a user id can sit inside a Redis
 * Cluster hash tag.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;

/**
 * Prefix of every user id the anonymous route hands out: `/realtime/alice` connects as `anon:alice`. Anyone
 * can name any path user, so an anonymous caller must never share an id with a verified one, or ten
 * anonymous sockets as `alice` would take the real alice's connection slots and sessions would read as
 * hers. Credentials can never carry an id in this namespace (a JWT user claim is refused, an API key id is
 * a config error), which keeps the two sets of ids apart.
 */
export const ANONYMOUS_USER_PREFIX = 'anon:';

/** True when `value` is a string that satisfies {@link USER_ID_PATTERN}. */
export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}

/** True for an id in the anonymous namespace (`anon:…`), which no credential may claim. */
export function isAnonymousUserId(value: string): boolean {
  return value.startsWith(ANONYMOUS_USER_PREFIX);
}

/** The internal user id of an anonymous connection to `/realtime/{pathUser}`; `pathUser` must be valid. */
export function anonymousUserId(pathUser: string): string {
  if (!isValidUserId(pathUser)) throw new TypeError('invalid path user id');
  return `${ANONYMOUS_USER_PREFIX}${pathUser}`;
}

/**
 * True for any id a connection or session may belong to: a valid user id, or `anon:` followed by one (up
 * to 133 characters, from the same safe alphabet, so it still fits a Redis key and hash tag).
 */
export function isSessionUserId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  return isAnonymousUserId(value)
    ? isValidUserId(value.slice(ANONYMOUS_USER_PREFIX.length))
    : isValidUserId(value);
}
