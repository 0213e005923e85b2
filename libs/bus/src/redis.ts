import { Redis, type RedisOptions } from 'ioredis';

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
}

/** Reconnect delay: grows with attempts, capped at 2 s, with jitter so a fleet does not reconnect in step. */
export function reconnectDelayMs(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export function createRedis(url: string, opts: RedisConnectionOptions): Redis {
  const producer = opts.role === 'producer';
  const options: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: producer ? 1 : null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => reconnectDelayMs(attempt),
    lazyConnect: false,
  };
  const client = new Redis(url, options);
  client.on('error', (err: Error) => opts.onError?.(err));
  return client;
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitReady(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
