/**
 * The gateway's rule for user ids (the seed's `/{user_id}` route uses the same one): 1–128 characters of
 * letters, digits and `_ . @ : -`. Safe in a URL path segment, a Redis key and a log field without escaping;
 * it admits e-mail-like ids and `tenant:user` forms but no braces, so a user id can sit inside a Redis
 * Cluster hash tag.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;

/** True when `value` is a string that satisfies {@link USER_ID_PATTERN}. */
export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}
