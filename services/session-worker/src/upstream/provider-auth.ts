import { readFile } from 'node:fs/promises';
import { ProviderConnectError, providerFailure } from './provider-failure.js';

/**
 * How a provider connection authenticates, beyond OpenAI's bearer key: Azure OpenAI takes its key in the
 * `api-key` header, or a Microsoft Entra ID access token as a bearer. The token lives in a file that a sidecar
 * or refresher rotates, so it is read again at every connect (the file must be replaced atomically: written
 * elsewhere, then renamed, as Kubernetes projected volumes do). Credentials are never logged.
 */
export type ProviderAuth =
  | { type: 'bearer'; key: string }
  | { type: 'api-key'; key: string }
  | { type: 'bearer-file'; path: string };

/** Entra ID tokens are a few kB; anything far larger is not a token. */
const MAX_TOKEN_BYTES = 64 * 1024;
/** A bearer token is one header-safe word (JWTs are base64url and dots). */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** The handshake headers for `auth`; a token file that is missing, empty or not a token fails as `auth_failed`. */
export async function authHeaders(auth: ProviderAuth | undefined): Promise<Record<string, string>> {
  if (!auth) return {};
  switch (auth.type) {
    case 'bearer':
      return { authorization: `Bearer ${auth.key}` };
    case 'api-key':
      return { 'api-key': auth.key };
    case 'bearer-file':
      return { authorization: `Bearer ${await readToken(auth.path)}` };
  }
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw tokenFileError(
      missing ? 'missing' : 'unreadable',
      missing
        ? `token file ${path} does not exist`
        : `token file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const token = text.trim();
  if (!token) throw tokenFileError('empty', `token file ${path} is empty`);
  if (token.length > MAX_TOKEN_BYTES || !TOKEN_PATTERN.test(token))
    throw tokenFileError('invalid', `token file ${path} does not hold a single bearer token`);
  return token;
}

function tokenFileError(what: string, message: string): ProviderConnectError {
  return new ProviderConnectError(message, providerFailure('auth_failed', `token_file_${what}`));
}
