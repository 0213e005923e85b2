// A real Sentinel deployment for tests: one master, its replicas and a quorum of redis-sentinel processes on
// free loopback ports, with the means to kill the master and wait until the sentinels have promoted a replica;
// optionally on TLS only, replication and the sentinels' links included.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  directiveArgs,
  loopbackUrl,
  type NodeAccess,
  redisCommand,
  requireRedisBinary,
  resolveTopologyTls,
  roleOf,
  type TopologyProcess,
  TopologyResources,
  type TopologyTls,
  type TopologyTlsOption,
  tlsDirectives,
} from './redis-cluster.js';
import { waitFor } from './wait.js';

export interface RedisSentinelOptions {
  /**
   * Replicas of the master; with none there is nothing to fail over to.
   * @defaultValue 1
   */
  replicas?: number;
  /**
   * Sentinel processes; the quorum is a majority of them (2 of 3).
   * @defaultValue 3
   */
  sentinels?: number;
  /**
   * The name the sentinels monitor the master under (RTV_REDIS_SENTINEL_MASTER for services).
   * @defaultValue 'rtv-master'
   */
  masterName?: string;
  /** The data servers' `requirepass`/`masterauth` and the sentinels' `auth-pass`; the sentinels have none. */
  password?: string;
  /**
   * Servers and sentinels on TLS only, with replication, the sentinels' links to the servers and to each
   * other on TLS too; the URLs become `rediss://` and `tlsCaFile` names the CA to trust.
   */
  tls?: TopologyTlsOption;
}

/** A process of the deployment: a data server (master or replica, which failover swaps) or a sentinel. */
export interface RedisSentinelProcess {
  readonly kind: 'server' | 'sentinel';
  readonly port: number;
  readonly pid: number;
}

/** A running Sentinel deployment of this test; `stop()` ends every process and removes its files. */
export interface RedisSentinelHandle {
  readonly masterName: string;
  /** `redis://127.0.0.1:<port>` (`rediss://` with TLS) of every sentinel. */
  readonly sentinelUrls: string[];
  /** The sentinel URLs joined with commas: REDIS_URL for a service with RTV_REDIS_MODE=sentinel. */
  readonly url: string;
  /** The data servers' password (REDIS_PASSWORD for services), if any. */
  readonly password: string | undefined;
  /** With TLS, the CA the servers' and sentinels' certificates chain to (RTV_REDIS_TLS_CA_FILE for services). */
  readonly tlsCaFile: string | undefined;
  /** Every process started, killed ones included. */
  readonly processes: RedisSentinelProcess[];
  /** The directory holding every process's files; gone after `stop()`. */
  readonly dir: string;
  /** The master's port as the first answering sentinel reports it (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  masterPort(): Promise<number>;
  /** Signals the current master (SIGKILL unless told otherwise) and resolves with its port. */
  killMaster(signal?: NodeJS.Signals): Promise<number>;
  /**
   * Resolves with the new master's port once every live sentinel names the same master other than
   * `oldPort`, none has a failover in progress, and that server answers ROLE as a master.
   */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Kills every process and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** A config value in redis.conf syntax: quoted, so passwords with spaces or quotes survive. */
function confString(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"`;
}

/** The flat field/value array of SENTINEL MASTER or of one SENTINEL REPLICAS entry, as a map. */
function fieldsOf(reply: unknown): Map<string, string> {
  const flat = reply as unknown[];
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  return fields;
}

/** The deployment behind {@link RedisSentinelHandle}: its servers, its sentinels and the checks on them. */
class RedisSentinel implements RedisSentinelHandle {
  private readonly servers: TopologyProcess[] = [];
  private readonly sentinelProcesses: TopologyProcess[] = [];

  constructor(
    private readonly resources: TopologyResources,
    readonly masterName: string,
    readonly password: string | undefined,
    private readonly tls: TopologyTls | undefined,
  ) {}

  get dir(): string {
    return this.resources.dir;
  }

  get tlsCaFile(): string | undefined {
    return this.tls?.caFile;
  }

  /** How this file's own commands reach a data server: its password and, with TLS, the CA. */
  private get serverAccess(): NodeAccess {
    return { password: this.password, tlsCa: this.tls?.ca };
  }

  /** How they reach a sentinel: no password (the sentinels have none), the CA with TLS. */
  private get sentinelAccess(): NodeAccess {
    return { tlsCa: this.tls?.ca };
  }

  get sentinelUrls(): string[] {
    return this.sentinelProcesses.map((proc) => loopbackUrl(proc.port, undefined, this.tls !== undefined));
  }

  get url(): string {
    return this.sentinelUrls.join(',');
  }

  get processes(): RedisSentinelProcess[] {
    return [
      ...this.servers.map(({ port, pid }) => ({ kind: 'server' as const, port, pid })),
      ...this.sentinelProcesses.map(({ port, pid }) => ({ kind: 'sentinel' as const, port, pid })),
    ];
  }

  /** Starts the master, then `replicas` replicas of it, and waits until each is synced. */
  async startServers(replicas: number): Promise<void> {
    const master = await this.startServer('master', []);
    const started = await Promise.allSettled(
      Array.from({ length: replicas }, (_, i) =>
        this.startServer(`replica-${i + 1}`, ['--replicaof', '127.0.0.1', String(master.port)]),
      ),
    );
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    await waitFor(
      async () => {
        const links = await Promise.all(this.servers.slice(1).map((s) => roleOf(s.port, this.serverAccess)));
        return links.every((link) => link.masterPort === master.port && link.linkState === 'connected');
      },
      { timeoutMs: 15_000, intervalMs: 50, message: `${replicas} replica(s) synced with the master` },
    );
  }

  /** Starts one data server in its own directory; it is recorded even if a later step fails, for `stop()`. */
  private async startServer(name: string, extraArgs: string[]): Promise<TopologyProcess> {
    const serverDir = path.join(this.dir, name);
    mkdirSync(serverDir);
    const auth =
      this.password === undefined ? [] : ['--requirepass', this.password, '--masterauth', this.password];
    const server = await this.resources.start({
      binary: 'redis-server',
      label: `sentinel-watched ${name}`,
      access: this.serverAccess,
      args: ([port]) => [
        ...(this.tls ? directiveArgs(tlsDirectives(this.tls, port!)) : ['--port', String(port)]),
        ...['--dir', serverDir, '--appendonly', 'no', '--save', ''],
        // A replica's first sync would otherwise wait 5 s for others to share it.
        ...['--repl-diskless-sync-delay', '0', '--bind', '127.0.0.1', '--protected-mode', 'no', ...auth],
        ...extraArgs,
      ],
    });
    this.servers.push(server);
    return server;
  }

  /** Starts `count` sentinels, each with a config file of its own that it may rewrite. */
  async startSentinels(count: number): Promise<void> {
    const masterPort = this.servers[0]!.port;
    const quorum = Math.floor(count / 2) + 1;
    const name = this.masterName;
    const started = await Promise.allSettled(
      Array.from({ length: count }, async (_, i) => {
        const sentinelDir = path.join(this.dir, `sentinel-${i + 1}`);
        const configFile = path.join(sentinelDir, 'sentinel.conf');
        mkdirSync(sentinelDir);
        const sentinel = await this.resources.start({
          binary: 'redis-sentinel',
          label: `sentinel ${i + 1}`,
          access: this.sentinelAccess,
          prepare: ([port]) => {
            const lines = [
              // With TLS, `tls-replication` also makes the sentinel reach servers and sentinels over TLS.
              ...(this.tls
                ? tlsDirectives(this.tls, port!).map(([key, value]) => `${key} ${confString(value)}`)
                : [`port ${port}`]),
              'bind 127.0.0.1',
              'protected-mode no',
              `dir ${confString(sentinelDir)}`,
              'sentinel resolve-hostnames no',
              `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
              `sentinel down-after-milliseconds ${name} 1000`,
              `sentinel failover-timeout ${name} 5000`,
              `sentinel parallel-syncs ${name} 1`,
              ...(this.password === undefined
                ? []
                : [`sentinel auth-pass ${name} ${confString(this.password)}`]),
            ];
            writeFileSync(configFile, `${lines.join('\n')}\n`);
          },
          args: () => [configFile],
        });
        this.sentinelProcesses.push(sentinel);
      }),
    );
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /** Waits until every sentinel sees the master up, all its replicas synced and every other sentinel. */
  async waitAcquainted(replicas: number, timeoutMs: number): Promise<void> {
    const others = String(this.sentinelProcesses.length - 1);
    await waitFor(
      async () => {
        const views = await Promise.all(
          this.sentinelProcesses.map(async ({ port }) => {
            const master = fieldsOf(
              await redisCommand(port, this.sentinelAccess, ['SENTINEL', 'MASTER', this.masterName]),
            );
            const known = (await redisCommand(port, this.sentinelAccess, [
              'SENTINEL',
              'REPLICAS',
              this.masterName,
            ])) as unknown[];
            const replicasUp = known
              .map(fieldsOf)
              .filter((r) => r.get('flags') === 'slave' && r.get('master-link-status') === 'ok');
            return (
              master.get('flags') === 'master' &&
              master.get('num-other-sentinels') === others &&
              replicasUp.length === replicas
            );
          }),
        );
        return views.every(Boolean);
      },
      {
        timeoutMs,
        intervalMs: 100,
        message: `every sentinel to know ${this.masterName}, its replicas and its peers`,
      },
    );
  }

  async masterPort(): Promise<number> {
    let lastError: unknown;
    for (const sentinel of this.sentinelProcesses.filter((s) => s.running())) {
      try {
        return await this.masterPortPer(sentinel.port);
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`no sentinel could name the master ${this.masterName}`, { cause: lastError });
  }

  /** The master's port according to the sentinel on `sentinelPort`. */
  private async masterPortPer(sentinelPort: number): Promise<number> {
    const args = ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName];
    const address = (await redisCommand(sentinelPort, this.sentinelAccess, args)) as [string, string] | null;
    if (!address) throw new Error(`sentinel ${sentinelPort} does not know ${this.masterName}`);
    return Number(address[1]);
  }

  async killMaster(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const port = await this.masterPort();
    const master = this.servers.find((server) => server.port === port && server.running());
    if (!master)
      throw new Error(`the sentinels name ${port} as master, which is not a live server of this test`);
    await master.kill(signal);
    return port;
  }

  async waitForFailover(oldPort: number, timeoutMs = 20_000): Promise<number> {
    return waitFor(
      async () => {
        const live = this.sentinelProcesses.filter((s) => s.running());
        const named = new Set(await Promise.all(live.map((s) => this.masterPortPer(s.port))));
        const [port] = [...named];
        if (named.size !== 1 || port === undefined || port === oldPort) return false;
        const states = await Promise.all(
          live.map(async (s) =>
            fieldsOf(
              await redisCommand(s.port, this.sentinelAccess, ['SENTINEL', 'MASTER', this.masterName]),
            ),
          ),
        );
        if (states.some((state) => state.get('flags') !== 'master')) return false;
        return (await roleOf(port, this.serverAccess)).role === 'master' && port;
      },
      { timeoutMs, intervalMs: 100, message: `the sentinels to promote a replica of ${oldPort}` },
    );
  }

  stop(): Promise<void> {
    return this.resources.dispose();
  }
}

/**
 * Starts a master with `replicas` replicas and `sentinels` sentinels monitoring it as `masterName`, on free
 * loopback ports, and resolves once every sentinel knows the master, its synced replicas and its peers. With
 * `tls`, every process and every link between them uses TLS. Fails naming the Debian package when
 * redis-server, redis-sentinel (or, for `tls: true`, openssl) is missing; on any failure it stops what it
 * started.
 */
export async function startRedisSentinel({
  replicas = 1,
  sentinels = 3,
  masterName = 'rtv-master',
  password,
  tls,
}: RedisSentinelOptions = {}): Promise<RedisSentinelHandle> {
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`replicas must be a whole number >= 0 (got ${replicas})`);
  }
  if (!Number.isInteger(sentinels) || sentinels < 1) {
    throw new Error(`sentinels must be a whole number >= 1 (got ${sentinels})`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(masterName)) {
    throw new Error(`masterName ${JSON.stringify(masterName)} must be letters, digits, '.', '_' or '-'`);
  }
  requireRedisBinary('redis-server', 'redis-server');
  requireRedisBinary('redis-sentinel', 'redis-sentinel');
  const resources = new TopologyResources('sentinel');
  try {
    const deployment = new RedisSentinel(
      resources,
      masterName,
      password,
      resolveTopologyTls(tls, resources.dir),
    );
    await deployment.startServers(replicas);
    await deployment.startSentinels(sentinels);
    await deployment.waitAcquainted(replicas, 20_000);
    return deployment;
  } catch (err) {
    await resources.dispose();
    throw err;
  }
}
