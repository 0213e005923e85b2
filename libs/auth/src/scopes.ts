import { type AuthResult, type AuthSuccess, deny } from './result.js';

/**
 * What a credential may do beyond acting as its own user. `sessions:connect`: open sessions on the
 * gateway's authenticated route. `history:read`: read any user's session history on the status API (every
 * caller reads its own sessions without it). Renaming one breaks configured keys; add new words instead.
 */
export const SCOPES = ['sessions:connect', 'history:read'] as const;

export type Scope = (typeof SCOPES)[number];

/**
 * Scopes of an `RTV_AUTH_API_KEYS` entry that names none: connecting only, which is all a key could be
 * used for before scopes existed that was safe, so old configs keep connecting but lose the history of
 * other users.
 */
export const DEFAULT_API_KEY_SCOPES: readonly Scope[] = Object.freeze(['sessions:connect']);

/** Scopes of every verified JWT: a signed-in user connects and reads only its own sessions. */
export const JWT_SCOPES: readonly Scope[] = Object.freeze(['sessions:connect']);

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `result` unchanged when it is a failure or carries `scope`; otherwise a 403 failure with reason `scope`. */
export function requireScope(result: AuthResult, scope: Scope): AuthResult {
  if (!result.ok || result.scopes.includes(scope)) return result;
  return deny('scope');
}

/**
 * Whether `caller` may read the history of a session that belongs to `sessionUserId`: its own sessions
 * always, anyone's with `history:read`. Anonymous sessions belong to `anon:…` ids that no credential carries,
 * so only `history:read` opens them.
 */
export function mayReadHistory(caller: AuthSuccess, sessionUserId: string): boolean {
  return caller.userId === sessionUserId || caller.scopes.includes('history:read');
}
