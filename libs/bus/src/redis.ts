import { readFileSync } from 'node:fs';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Callback, Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** A connection to Redis however it is deployed: one endpoint or a sentinel-watched master (`Redis`), or a Cluster. */
export type RedisClient = Redis | Cluster;

/** How Redis is deployed (`RTV_REDIS_MODE`). */
export type RedisMode = 'single' | 'cluster' | 'sentinel';

/**
 * Whether `client` is a Redis Cluster client. A cluster takes no pipeline or MULTI whose keys span slots, so
 * batches of unrelated keys go as single commands there, which the client groups per node by itself
 * (`enableAutoPipelining`): one round trip per node and event-loop turn, as a pipeline would be.
 */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** The deployment shape besides the URLs: the mode, and for Sentinel the master's name and the sentinels' password. */
export interface RedisTopology {
  mode: RedisMode;
  /** `RTV_REDIS_SENTINEL_MASTER`: required in sentinel mode. */
  sentinelMaster?: string;
  /** `RTV_REDIS_SENTINEL_PASSWORD`: the sentinels' own password, when they have one. */
  sentinelPassword?: string;
}

/** The topology a service's validated config names (`RTV_REDIS_MODE` and the sentinel settings). */
export function redisTopologyOf(config: {
  RTV_REDIS_MODE?: string | undefined;
  RTV_REDIS_SENTINEL_MASTER?: string | undefined;
  RTV_REDIS_SENTINEL_PASSWORD?: string | undefined;
}): RedisTopology {
  return redisTopologyFromEnv(config as NodeJS.ProcessEnv);
}

/** Reads `RTV_REDIS_MODE`, `RTV_REDIS_SENTINEL_MASTER` and `RTV_REDIS_SENTINEL_PASSWORD` (validated by each service's config). */
export function redisTopologyFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTopology {
  const mode = (env.RTV_REDIS_MODE || 'single') as RedisMode;
  if (mode !== 'single' && mode !== 'cluster' && mode !== 'sentinel') {
    throw new RedisSettingsError(`RTV_REDIS_MODE=${mode}: expected single, cluster or sentinel`);
  }
  return {
    mode,
    ...(env.RTV_REDIS_SENTINEL_MASTER ? { sentinelMaster: env.RTV_REDIS_SENTINEL_MASTER } : {}),
    ...(env.RTV_REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.RTV_REDIS_SENTINEL_PASSWORD } : {}),
  };
}

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
 * `rediss://` always yields TLS options (empty: Node's public roots), because Cluster nodes and the master a
 * sentinel names are reached by host and port, not by the URL, and would otherwise get plain TCP.
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
  if (!secure) return { url: target };
  return { url: target, tls: credentials.tlsCa === undefined ? {} : { ca: credentials.tlsCa } };
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
  /**
   * Single endpoint, Cluster or Sentinel.
   * @defaultValue {@link redisTopologyFromEnv}: `RTV_REDIS_MODE` and the sentinel settings of this process
   */
  topology?: RedisTopology;
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
export function createRedis(url: string, opts: RedisConnectionOptions): RedisClient {
  const credentials = opts.credentials ?? redisCredentialsFromEnv();
  const topology = opts.topology ?? redisTopologyFromEnv();
  const urls = url
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (topology.mode === 'single' && urls.length !== 1) {
    throw new RedisSettingsError(
      `REDIS_URL lists ${urls.length} endpoints: set RTV_REDIS_MODE=cluster or sentinel, or give one URL`,
    );
  }
  const client =
    topology.mode === 'cluster'
      ? createCluster(urls, credentials, opts)
      : topology.mode === 'sentinel'
        ? createSentinelClient(urls, credentials, topology, opts)
        : new Redis(redisTarget(urls[0]!, credentials).url, connectionOptions(urls[0]!, credentials, opts));
  client.on('error', (err: Error) => opts.onError?.(err));
  return client;
}

/** What every connection gets: its name, retry behaviour by role, and TLS when the URL asks for it. */
function connectionOptions(
  url: string,
  credentials: RedisCredentials,
  opts: RedisConnectionOptions,
): RedisOptions {
  const target = redisTarget(url, credentials);
  return {
    ...(target.tls ? { tls: target.tls } : {}),
    connectionName: opts.name,
    maxRetriesPerRequest: opts.role === 'producer' ? 1 : null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => reconnectDelayMs(attempt),
    lazyConnect: false,
  };
}

/** Host, port, user and password of one URL of a list (each may carry its own user; REDIS_PASSWORD applies to all). */
function endpointOf(
  url: string,
  credentials: RedisCredentials,
): { host: string; port: number; username?: string; password?: string } {
  const parsed = new URL(redisTarget(url, credentials).url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  return {
    host,
    port,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
  };
}

/**
 * A Redis Cluster client from seed nodes: it learns the slot map, sends each command to the master of its key's
 * slot, follows MOVED and ASK redirections itself, and refreshes the map when a master fails over, retrying
 * meanwhile (`retryDelayOnFailover`, `retryDelayOnClusterDown`). Reads go to masters: replicas lag.
 */
function createCluster(urls: string[], credentials: RedisCredentials, opts: RedisConnectionOptions): Cluster {
  const seeds = urls.map((u) => endpointOf(u, credentials));
  const { username, password } = seeds[0]!;
  const base = connectionOptions(urls[0]!, credentials, opts);
  const options: ClusterOptions = {
    redisOptions: { ...base, ...(username ? { username } : {}), ...(password ? { password } : {}) },
    scaleReads: 'master',
    enableAutoPipelining: true,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    maxRedirections: 32,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (attempt) => reconnectDelayMs(attempt),
    // A TLS certificate names the hosts as given: keep them rather than resolving them to addresses.
    ...(base.tls
      ? {
          dnsLookup: (address: string, callback: (err: null, address: string) => void) =>
            callback(null, address),
        }
      : {}),
  };
  const cluster = new Cluster(
    seeds.map(({ host, port }) => ({ host, port })),
    options,
  );
  if (base.tls) {
    const { host, port } = seeds[0]!;
    tlsProbes.set(cluster, {
      what: 'cluster node',
      host,
      port,
      tls: base.tls,
      hiddenBy: 'Failed to refresh slots cache',
    });
  }
  return cluster;
}

/** How long a sentinel may take to name the master before the client asks the next sentinel. */
const SENTINEL_COMMAND_TIMEOUT_MS = 2000;

/**
 * A Sentinel client that outlives a failover announced while it reconnects. ioredis's failover detector
 * closes the connector when a sentinel publishes `+switch-master`; when that happens while the client is
 * reconnecting (the master it had is gone, it is asking the sentinels), ioredis ends the client for good:
 * status `end`, every later command "Connection is closed.". This client connects again after an end it was
 * not asked for (`disconnect()`, `quit()`), and its duplicates (BullMQ's blocking connections) do the same.
 */
class SentinelMasterClient extends Redis {
  private closing = false;

  constructor(options: RedisOptions) {
    super(options);
    this.on('end', () => {
      if (this.closing) return;
      setTimeout(() => {
        if (!this.closing && this.status === 'end') this.connect().catch(() => {});
      }, reconnectDelayMs(0));
    });
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closing = true;
    super.disconnect(reconnect);
  }

  override quit(callback?: Callback<'OK'>): Promise<'OK'> {
    this.closing = true;
    return super.quit(callback);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new SentinelMasterClient({ ...this.options, ...override });
  }
}

/**
 * A client of the master that the sentinels at `urls` name `topology.sentinelMaster`: it asks them where the
 * master is, checks the node it reaches is a master, and, told of a failover (`+switch-master`, or a lost
 * connection), asks again and reconnects to the new master.
 */
function createSentinelClient(
  urls: string[],
  credentials: RedisCredentials,
  topology: RedisTopology,
  opts: RedisConnectionOptions,
): Redis {
  if (!topology.sentinelMaster) {
    throw new RedisSettingsError(
      'RTV_REDIS_MODE=sentinel needs RTV_REDIS_SENTINEL_MASTER, the name the sentinels monitor',
    );
  }
  const sentinels = urls.map((u) => {
    const { host, port } = endpointOf(u, { ...credentials, password: undefined });
    return { host, port };
  });
  // rediss:// puts both the sentinels and the master they name on TLS, trusting the same CA.
  const base = connectionOptions(urls[0]!, { ...credentials, password: undefined }, opts);
  const client = new SentinelMasterClient({
    ...base,
    sentinels,
    name: topology.sentinelMaster,
    role: 'master',
    ...(credentials.password !== undefined ? { password: credentials.password } : {}),
    ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
    ...(base.tls ? { enableTLSForSentinelMode: true, sentinelTLS: base.tls } : {}),
    sentinelRetryStrategy: (attempt) => reconnectDelayMs(attempt),
    // A sentinel that accepts the connection but never answers (stopped, cut off) is left for the next one.
    sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
    failoverDetector: true,
  });
  if (base.tls) {
    const { host, port } = sentinels[0]!;
    tlsProbes.set(client, {
      what: 'sentinel',
      host,
      port,
      tls: base.tls,
      hiddenBy: 'All sentinels are unreachable',
    });
  }
  return client;
}

/**
 * Resolves once the client is ready, or rejects after `timeoutMs` naming the last connection error (a refused
 * password reads `WRONGPASS …` or `NOAUTH …`, a distrusted certificate names the TLS failure).
 *
 * A Cluster or Sentinel client on TLS does not say why: ioredis drops the errors of the connections it makes
 * to read the slot map or to ask the sentinels, and reports only that it failed. For those, the first TLS
 * handshake is made again (at most {@link TLS_PROBE_TIMEOUT_MS} more) to name its failure.
 */
export async function waitReady(client: RedisClient, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let lastError: string | undefined;
    let hiddenTlsFailure: Promise<string | undefined> | undefined;
    const timer = setTimeout(async () => {
      cleanup();
      const tlsFailure = await hiddenTlsFailure;
      const causes = [lastError, tlsFailure].filter((cause) => cause !== undefined);
      const why = causes.length === 0 ? '' : ` (last error: ${causes.join('; ')})`;
      reject(new Error(`Redis not ready after ${timeoutMs} ms${why}`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      lastError = err.message;
      const probe = tlsProbes.get(client);
      if (hiddenTlsFailure === undefined && probe && err.message.startsWith(probe.hiddenBy)) {
        hiddenTlsFailure = tlsHandshakeFailure(probe);
      }
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

/** How long {@link waitReady} waits for the TLS handshake it makes again to name a hidden TLS failure. */
const TLS_PROBE_TIMEOUT_MS = 1000;

/** Where a Cluster or Sentinel client on TLS makes its first handshake, and the error that hides its failure. */
interface TlsProbe {
  what: 'cluster node' | 'sentinel';
  host: string;
  port: number;
  tls: ConnectionOptions;
  /** The start of the error ioredis reports instead of the TLS failure. */
  hiddenBy: string;
}

/** The probe of each Cluster or Sentinel client on TLS that {@link createRedis} made. */
const tlsProbes = new WeakMap<RedisClient, TlsProbe>();

/** `TLS to <what> host:port failed: <reason>`, or undefined when the handshake succeeds (or hangs past the timeout). */
function tlsHandshakeFailure({ what, host, port, tls }: TlsProbe): Promise<string | undefined> {
  return new Promise((resolve) => {
    const finish = (reason: string | undefined) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(reason === undefined ? undefined : `TLS to ${what} ${host}:${port} failed: ${reason}`);
    };
    const timer = setTimeout(() => finish(undefined), TLS_PROBE_TIMEOUT_MS);
    let socket: TLSSocket | undefined;
    try {
      socket = tlsConnect({ ...tls, host, port });
    } catch (err) {
      finish((err as Error).message);
      return;
    }
    socket.once('secureConnect', () => finish(undefined));
    socket.once('error', (err) => finish(err.message));
  });
}
