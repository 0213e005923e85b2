import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * What reaching Redis takes besides its URL. The password travels apart from `REDIS_URL` so that it can come
 * from a Secret of its own (`REDIS_PASSWORD`) while the URL stays plain configuration; the CA lets a
 * `rediss://` connection trust a server certificate signed by a private CA (`RTV_REDIS_TLS_CA_FILE`) rather
 * than only the public roots Node ships.
 */
export interface RedisCredentials {
  /** Sent with AUTH (as the URL's user, if it names one). */
  password?: string;
  /** PEM certificate(s) the server's certificate must chain to, for `rediss://` only. */
  tlsCa?: string;
  /** Where `tlsCa` came from, for messages. */
  tlsCaFile?: string;
}

/** A Redis setting that cannot work. The message names the variables and never carries the password. */
export class RedisSettingsError extends Error {
  override readonly name = 'RedisSettingsError';
}

/**
 * Reads `REDIS_PASSWORD` and `RTV_REDIS_TLS_CA_FILE` (the services declare both in their config schema, so a
 * start validates them). The CA file is read here, once per connection factory call: an unreadable or
 * non-PEM file stops the start with the path in the message.
 */
export function redisCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): RedisCredentials {
  const password = env.REDIS_PASSWORD === '' ? undefined : env.REDIS_PASSWORD;
  const tlsCaFile = env.RTV_REDIS_TLS_CA_FILE?.trim() || undefined;
  if (!tlsCaFile) return { password };
  let tlsCa: string;
  try {
    tlsCa = readFileSync(tlsCaFile, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RedisSettingsError(`RTV_REDIS_TLS_CA_FILE=${tlsCaFile}: cannot read it (${reason})`);
  }
  if (!tlsCa.includes('-----BEGIN CERTIFICATE-----')) {
    throw new RedisSettingsError(`RTV_REDIS_TLS_CA_FILE=${tlsCaFile}: no PEM certificate in it`);
  }
  return { password, tlsCa, tlsCaFile };
}

/**
 * The URL and TLS options ioredis gets. A password from `REDIS_PASSWORD` goes into the URL object handed to
 * ioredis (never into a log); one given both there and in `REDIS_URL` is refused rather than guessed at. A CA
 * without `rediss://` is refused too: the operator meant TLS and would silently get a plain connection.
 */
export function redisTarget(
  url: string,
  credentials: RedisCredentials,
): { url: string; tls?: RedisOptions['tls'] } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisSettingsError('REDIS_URL is not a valid URL');
  }
  const secure = parsed.protocol === 'rediss:';
  if (credentials.tlsCa !== undefined && !secure) {
    throw new RedisSettingsError(
      `RTV_REDIS_TLS_CA_FILE=${credentials.tlsCaFile ?? '(given)'} is set but REDIS_URL is not rediss://: use rediss:// to connect over TLS`,
    );
  }
  if (credentials.password !== undefined) {
    if (parsed.password !== '') {
      throw new RedisSettingsError(
        'REDIS_PASSWORD is set and REDIS_URL carries a password too: give the password in one place',
      );
    }
    // The setter leaves %XX alone: encode first so that ioredis's decoding gives back the exact password.
    parsed.password = encodeURIComponent(credentials.password);
  }
  const target = credentials.password === undefined ? url : parsed.href;
  return secure && credentials.tlsCa !== undefined
    ? { url: target, tls: { ca: credentials.tlsCa } }
    : { url: target };
}

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST` so an operator can tell connections apart. */
  name: string;
  /**
   * Blocking readers and BullMQ workers must never give up on a command (`maxRetriesPerRequest: null`);
   * producers on the request path should fail fast instead of queueing forever while Redis is away.
   * @defaultValue 'blocking'
   */
  role?: 'blocking' | 'producer';
  /** Called for connection errors; an `error` listener is always attached so ioredis never throws them. */
  onError?: (err: Error) => void;
  /**
   * Password and TLS CA to use with `url`.
   * @defaultValue {@link redisCredentialsFromEnv}: `REDIS_PASSWORD` and `RTV_REDIS_TLS_CA_FILE` of this process
   */
  credentials?: RedisCredentials;
}

/** Reconnect delay: grows with attempts, capped at 2 s, with jitter so a fleet does not reconnect in step. */
export function reconnectDelayMs(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * A client for `url` with the process's Redis password and TLS CA. Throws {@link RedisSettingsError} when
 * those settings contradict the URL, before any connection is attempted.
 */
export function createRedis(url: string, opts: RedisConnectionOptions): Redis {
  const target = redisTarget(url, opts.credentials ?? redisCredentialsFromEnv());
  const producer = opts.role === 'producer';
  const options: RedisOptions = {
    ...(target.tls ? { tls: target.tls } : {}),
    connectionName: opts.name,
    maxRetriesPerRequest: producer ? 1 : null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => reconnectDelayMs(attempt),
    lazyConnect: false,
  };
  const client = new Redis(target.url, options);
  client.on('error', (err: Error) => opts.onError?.(err));
  return client;
}

/**
 * Resolves once the client is ready, or rejects after `timeoutMs` naming the last connection error (a refused
 * password reads `WRONGPASS …` or `NOAUTH …`, a distrusted certificate names the TLS failure).
 */
export async function waitReady(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let lastError: string | undefined;
    const timer = setTimeout(() => {
      cleanup();
      const why = lastError === undefined ? '' : ` (last error: ${lastError})`;
      reject(new Error(`Redis not ready after ${timeoutMs} ms${why}`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      lastError = err.message;
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}
