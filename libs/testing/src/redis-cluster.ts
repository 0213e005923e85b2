// A real Redis Cluster for tests: redis-server processes in cluster mode on free loopback ports, joined by
// `redis-cli --cluster create`, with the means to kill a master and wait until its replica has taken over;
// optionally on TLS only, node to node included. Also the process plumbing redis-sentinel.ts shares: binaries
// checked up front, TLS directives, children and temp directories removed even when the test process dies
// without stopping them.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './net.js';
import { makeTlsCertificates } from './tls-certs.js';
import { waitFor } from './wait.js';

/** Keeps failure messages readable while still showing the end of a long log. */
const OUTPUT_LIMIT = 16 * 1024;

/** Children and directories of topologies still running, removed if the test process exits first. */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
/** Ports handed to a running child, so topologies started side by side never get the same one. */
const claimedPorts = new Set<number>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Throws, before anything is started, when `binary` cannot be run from PATH, naming the Debian package that
 * provides it: a missing binary must fail the suite with a fix rather than skip it.
 */
export function requireRedisBinary(binary: string, debianPackage: string): void {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (probe.error) {
    throw new Error(
      `${binary} cannot be run (${probe.error.message}): install the Debian package ${debianPackage} ` +
        `(apt-get install ${debianPackage}) so that ${binary} is on PATH`,
    );
  }
}

/** One redis-server or redis-sentinel child of a topology. */
export interface TopologyProcess {
  /** The client port (the first of the ports it was given). */
  readonly port: number;
  readonly pid: number;
  /** Its stdout and stderr so far (the last 16 KiB), for failure messages. */
  output(): string;
  /** Whether it has not exited yet. */
  running(): boolean;
  /** Sends `signal` and waits for the exit (SIGKILL after 5 s); for SIGSTOP it only sends it. Idempotent. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** How to start one child of a topology: what to run, on how many ports, with which arguments. */
export interface TopologyProcessSpec {
  /** Command name looked up on PATH (`redis-server`, `redis-sentinel`). */
  binary: string;
  /** Names the process in errors ("cluster node 3"). */
  label: string;
  /**
   * How many free ports it needs; the first is its client port (a cluster node also needs a bus port).
   * @defaultValue 1
   */
  portCount?: number;
  /** Its command-line arguments for the given ports. */
  args(ports: number[]): string[];
  /** Runs before each launch, e.g. to write a config file naming the ports. */
  prepare?(ports: number[]): void;
  /** How the readiness probe reaches it: the password it requires (`requirepass`), the CA of its TLS port. */
  access?: NodeAccess;
}

/** How this file's own probes and commands reach a node: its password and, on a TLS port, the CA to trust. */
export interface NodeAccess {
  password?: string | undefined;
  /** PEM of the CA the node's certificate chains to; set when the node listens on TLS only. */
  tlsCa?: string | undefined;
}

/**
 * How a topology is put on TLS: `true` makes a throwaway CA and a certificate for 127.0.0.1 in the topology's
 * directory; or the PEM files to use. Either way every process listens on TLS only and the links between them
 * (replication, cluster bus, sentinel to server and to sentinel) use TLS too.
 */
export type TopologyTlsOption = true | { caFile: string; certFile: string; keyFile: string };

/** The TLS files every process of a topology uses, with the CA's PEM for the topology's own probes. */
export interface TopologyTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
}

/** The files for `option` (made in `dir`/tls for `true`), or undefined without TLS. */
export function resolveTopologyTls(
  option: TopologyTlsOption | undefined,
  dir: string,
): TopologyTls | undefined {
  if (option === undefined) return undefined;
  if (option === true) return makeTlsCertificates(path.join(dir, 'tls'));
  return { ...option, ca: readFileSync(option.caFile, 'utf8') };
}

/**
 * The redis.conf directives that put a process on TLS only, on `port`: no plain port, the CA, and TLS for
 * replication (and the sentinels' own links). Clients may present a certificate, and one presented is checked
 * against the CA (`tls-auth-clients optional`): the nodes present theirs to each other, services need none.
 */
export function tlsDirectives(tls: TopologyTls, port: number): Array<[string, string]> {
  return [
    ['port', '0'],
    ['tls-port', String(port)],
    ['tls-cert-file', tls.certFile],
    ['tls-key-file', tls.keyFile],
    ['tls-ca-cert-file', tls.caFile],
    ['tls-auth-clients', 'optional'],
    ['tls-replication', 'yes'],
  ];
}

/** Directives as redis-server command-line arguments (`--name value`). */
export function directiveArgs(directives: Array<[string, string]>): string[] {
  return directives.flatMap(([name, value]) => [`--${name}`, value]);
}

/**
 * `redis://` (`rediss://` with `tls`) `[:password@]127.0.0.1:port`, the password encoded so that ioredis
 * decodes it back exactly.
 */
export function loopbackUrl(port: number, password?: string, tls = false): string {
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  return `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
}

/** Whether the node at `port` answers PING right now (no retries). */
async function answersPing(port: number, access: NodeAccess): Promise<boolean> {
  try {
    return (await redisCommand(port, access, ['PING'])) === 'PONG';
  } catch {
    return false;
  }
}

/** `count` distinct ports that were free a moment ago and are not claimed by another child of this process. */
async function claimFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (claimedPorts.has(port)) continue;
    claimedPorts.add(port);
    ports.push(port);
  }
  return ports;
}

/** Spawns `binary`, keeping its output and registering it for the exit-time cleanup. */
function launch(binary: string, args: string[], ports: number[]): TopologyProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      liveChildren.delete(child);
      for (const port of ports) claimedPorts.delete(port);
      resolve();
    });
    child.once('error', (err) => {
      output += `\nspawn failed: ${err.message}`;
      liveChildren.delete(child);
      for (const port of ports) claimedPorts.delete(port);
      resolve();
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    port: ports[0]!,
    pid: child.pid ?? -1,
    output: () => output,
    running,
    kill: async (signal = 'SIGKILL') => {
      if (!running()) return;
      child.kill(signal);
      if (signal === 'SIGSTOP') return;
      await Promise.race([exited, sleep(5000)]);
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The orphan guard's script: gathers pids from stdin; at end of input kills them and removes the directory $1. */
const GUARD_SCRIPT =
  'pids=""; while read -r pid; do pids="$pids $pid"; done; [ -n "$pids" ] && kill -9 $pids 2>/dev/null; rm -rf -- "$1"';

/**
 * The directory and child processes of one topology. `dispose()` kills the children and removes the directory.
 * If this process ends first, its 'exit' hook does that; and since the hook does not run when a test worker is
 * ended by a signal, a `sh` guard does it too: it is told each child's pid on its stdin and cleans up when that
 * pipe closes, which happens however this process ends.
 */
export class TopologyResources {
  readonly dir: string;
  private readonly guard: ChildProcess;
  private readonly children: TopologyProcess[] = [];
  private disposed: Promise<void> | undefined;

  constructor(label: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `rtv-${label}-`));
    liveDirs.add(this.dir);
    this.guard = spawn('sh', ['-c', GUARD_SCRIPT, 'rtv-topology-guard', this.dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.guard.stdin?.on('error', () => {});
  }

  /**
   * Starts one child on fresh free ports and resolves once it answers PING. A port taken between the check
   * and the bind makes the child exit at once: that is retried on other ports, twice.
   */
  async start(spec: TopologyProcessSpec): Promise<TopologyProcess> {
    let lastOutput = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const ports = await claimFreePorts(spec.portCount ?? 1);
      spec.prepare?.(ports);
      const proc = launch(spec.binary, spec.args(ports), ports);
      this.children.push(proc);
      if (proc.pid > 0) this.guard.stdin?.write(`${proc.pid}\n`);
      const deadline = Date.now() + 10_000;
      while (proc.running() && Date.now() < deadline) {
        if (await answersPing(proc.port, spec.access ?? {})) return proc;
        await sleep(50);
      }
      lastOutput = proc.output();
      await proc.kill('SIGKILL');
    }
    throw new Error(
      `${spec.label} (${spec.binary}) did not start; its last output:\n${lastOutput.slice(-2000)}`,
    );
  }

  /** Kills every child, removes the directory and dismisses the guard. Idempotent. */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      await Promise.all(this.children.map((proc) => proc.kill('SIGKILL')));
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
      liveDirs.delete(this.dir);
      const guardExited = new Promise((resolve) => this.guard.once('close', resolve));
      if (this.guard.exitCode === null && this.guard.signalCode === null) {
        this.guard.kill('SIGKILL');
        await guardExited;
      }
    })();
    return this.disposed;
  }
}

/**
 * Runs one command on the server at `port` over a short-lived connection without retries, so a dead or
 * stopped node rejects within about a second instead of stalling a poll.
 */
export async function redisCommand(
  port: number,
  access: NodeAccess,
  args: Array<string | number>,
): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...(access.password === undefined ? {} : { password: access.password }),
    ...(access.tlsCa === undefined ? {} : { tls: { ca: access.tlsCa } }),
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(String(command), ...rest);
  } finally {
    client.disconnect();
  }
}

/** The `field:value` lines of an INFO-style reply (CLUSTER INFO, INFO replication). */
export function parseInfo(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(reply).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** What ROLE says about a server: a master, or a replica of `masterPort` whose link is `linkState`. */
export interface ServerRole {
  role: 'master' | 'replica';
  masterPort?: number;
  /** For a replica: `connected` once it has synced (`connect`, `connecting`, `sync` before that). */
  linkState?: string;
}

/** Asks the server at `port` for its role. */
export async function roleOf(port: number, access: NodeAccess): Promise<ServerRole> {
  const reply = (await redisCommand(port, access, ['ROLE'])) as unknown[];
  if (reply[0] === 'master') return { role: 'master' };
  return { role: 'replica', masterPort: Number(reply[2]), linkState: String(reply[3]) };
}

const CLUSTER_SLOTS = 16_384;

export interface RedisClusterOptions {
  /**
   * Master count; `redis-cli --cluster create` needs at least 3.
   * @defaultValue 3
   */
  masters?: number;
  /**
   * Replicas of each master; a master without one cannot fail over.
   * @defaultValue 1
   */
  replicasPerMaster?: number;
  /** Set as every node's `requirepass` and `masterauth`; clients pass it apart from the URLs. */
  password?: string;
  /**
   * Every node on TLS only, the cluster bus and replication included (`tls-cluster`, `tls-replication`); the
   * URLs become `rediss://` and `tlsCaFile` names the CA to trust. Without it the nodes speak plain TCP.
   */
  tls?: TopologyTlsOption;
}

/** One node as last seen by {@link RedisClusterHandle.refreshRoles} (or {@link RedisClusterHandle.killMaster}). */
export interface RedisClusterNode {
  readonly port: number;
  readonly pid: number;
  role: 'master' | 'replica';
  /** For a replica, the port of the master it replicates (or last replicated, if that one died). */
  masterPort: number | undefined;
  /** False once `killMaster` signalled it (even SIGSTOP: a stopped node is out of the cluster too). */
  alive: boolean;
}

/** A running Redis Cluster of this test; `stop()` ends every process and removes its files. */
export interface RedisClusterHandle {
  /** Every node, including killed ones (`alive: false`); roles change on failover, see `refreshRoles`. */
  readonly nodes: RedisClusterNode[];
  /** `redis://127.0.0.1:<port>` (`rediss://` with TLS) of every node, masters and replicas. */
  readonly seedUrls: string[];
  /** The seed URLs joined with commas: REDIS_URL for a service with RTV_REDIS_MODE=cluster. */
  readonly url: string;
  /** The nodes' password (REDIS_PASSWORD for services), if any. */
  readonly password: string | undefined;
  /** With TLS, the CA the nodes' certificates chain to (RTV_REDIS_TLS_CA_FILE for services). */
  readonly tlsCaFile: string | undefined;
  /** The directory holding every node's files; gone after `stop()`. */
  readonly dir: string;
  /** Asks every live node for its role and updates `nodes`. */
  refreshRoles(): Promise<RedisClusterNode[]>;
  /** The port of the master serving `key`'s slot (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  masterOf(key: string): Promise<number>;
  /**
   * Signals a master (SIGKILL unless told otherwise) and resolves with its port: the one on `port`, the one
   * owning `forKey`'s slot, or else the first live master.
   */
  killMaster(target?: number | { forKey: string }, signal?: NodeJS.Signals): Promise<number>;
  /**
   * Resolves with the port of the replica of `oldMasterPort` that took over, once every live node reports
   * `cluster_state:ok`, agrees on a slot map whose masters are all live, and every live replica is synced.
   */
  waitForFailover(oldMasterPort: number, timeoutMs?: number): Promise<number>;
  /** Kills every node and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** The cluster behind {@link RedisClusterHandle}: its processes by port and the checks on them. */
class RedisCluster implements RedisClusterHandle {
  readonly nodes: RedisClusterNode[] = [];
  private readonly processes = new Map<number, TopologyProcess>();

  constructor(
    private readonly resources: TopologyResources,
    readonly password: string | undefined,
    private readonly tls: TopologyTls | undefined,
  ) {}

  get dir(): string {
    return this.resources.dir;
  }

  get tlsCaFile(): string | undefined {
    return this.tls?.caFile;
  }

  /** What this file's own commands to the nodes need: the password and, with TLS, the CA. */
  private get access(): NodeAccess {
    return { password: this.password, tlsCa: this.tls?.ca };
  }

  get seedUrls(): string[] {
    return this.nodes.map((node) => loopbackUrl(node.port, undefined, this.tls !== undefined));
  }

  get url(): string {
    return this.seedUrls.join(',');
  }

  /** Starts `count` cluster-mode nodes side by side, each in its own directory with a client and a bus port. */
  async startNodes(count: number): Promise<void> {
    const auth =
      this.password === undefined ? [] : ['--requirepass', this.password, '--masterauth', this.password];
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => {
        const nodeDir = path.join(this.dir, `node-${i + 1}`);
        mkdirSync(nodeDir);
        return this.resources.start({
          binary: 'redis-server',
          label: `cluster node ${i + 1}`,
          portCount: 2,
          access: this.access,
          args: ([port, busPort]) => [
            ...this.listenArgs(port!),
            ...['--cluster-port', String(busPort), '--dir', nodeDir],
            ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
            ...['--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0'],
            ...['--cluster-allow-reads-when-down', 'no', '--appendonly', 'no', '--save', ''],
            // A replica's first sync would otherwise wait 5 s for others to share it.
            ...['--repl-diskless-sync-delay', '0', '--bind', '127.0.0.1', '--protected-mode', 'no', ...auth],
          ],
        });
      }),
    );
    for (const result of started) {
      if (result.status !== 'fulfilled') continue;
      this.processes.set(result.value.port, result.value);
      this.nodes.push({
        port: result.value.port,
        pid: result.value.pid,
        role: 'master',
        masterPort: undefined,
        alive: true,
      });
    }
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /** Where a node listens: the plain `port`, or TLS only there with the cluster bus on TLS too. */
  private listenArgs(port: number): string[] {
    if (!this.tls) return ['--port', String(port)];
    return [...directiveArgs(tlsDirectives(this.tls, port)), '--tls-cluster', 'yes'];
  }

  /** Joins the nodes with `redis-cli --cluster create` (which assigns the slots and the replicas). */
  async create(replicasPerMaster: number): Promise<void> {
    const endpoints = this.nodes.map((node) => `127.0.0.1:${node.port}`);
    const auth = this.password === undefined ? [] : ['-a', this.password, '--no-auth-warning'];
    const tls = this.tls ? ['--tls', '--cacert', this.tls.caFile] : [];
    const args = [...auth, ...tls, '--cluster', 'create', ...endpoints];
    await runRedisCli([...args, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes']);
  }

  async refreshRoles(): Promise<RedisClusterNode[]> {
    await Promise.all(
      this.nodes
        .filter((node) => node.alive)
        .map(async (node) => {
          try {
            const { role, masterPort } = await roleOf(node.port, this.access);
            node.role = role;
            node.masterPort = masterPort;
          } catch {
            // Unreachable right now: keep what was last seen.
          }
        }),
    );
    return this.nodes;
  }

  async masterOf(key: string): Promise<number> {
    let lastError: unknown;
    for (const node of this.nodes.filter((n) => n.alive)) {
      try {
        const slot = Number(await redisCommand(node.port, this.access, ['CLUSTER', 'KEYSLOT', key]));
        const ranges = await this.slotRanges(node.port);
        const range = ranges.find(({ start, end }) => start <= slot && slot <= end);
        if (range) return range.masterPort;
        lastError = new Error(`node ${node.port} has no master for slot ${slot}`);
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`no live node could name the master of ${key}`, { cause: lastError });
  }

  async killMaster(
    target?: number | { forKey: string },
    signal: NodeJS.Signals = 'SIGKILL',
  ): Promise<number> {
    await this.refreshRoles();
    const port =
      typeof target === 'number'
        ? target
        : target
          ? await this.masterOf(target.forKey)
          : this.nodes.find((node) => node.alive && node.role === 'master')?.port;
    const node = this.nodes.find((n) => n.port === port);
    if (port === undefined || !node?.alive || node.role !== 'master') {
      throw new Error(`no live master on port ${port ?? '(none left)'}`);
    }
    node.alive = false;
    await this.processes.get(port)!.kill(signal);
    return port;
  }

  async waitForFailover(oldMasterPort: number, timeoutMs = 15_000): Promise<number> {
    const heirs = this.nodes.filter((node) => node.role === 'replica' && node.masterPort === oldMasterPort);
    if (heirs.length === 0) {
      throw new Error(`master ${oldMasterPort} has no replica to take over (replicasPerMaster: 0?)`);
    }
    const promoted = await waitFor(
      async () => {
        const roles = await Promise.all(
          heirs.filter((n) => n.alive).map(async (n) => ({ n, ...(await roleOf(n.port, this.access)) })),
        );
        const heir = roles.find(({ role }) => role === 'master')?.n;
        return heir !== undefined && (await this.healthy()) && heir.port;
      },
      { timeoutMs, intervalMs: 100, message: `a replica of ${oldMasterPort} to take over a healthy cluster` },
    );
    await this.refreshRoles();
    return promoted;
  }

  /** Waits until every live node is in a healthy cluster (see `healthy`). */
  async waitHealthy(timeoutMs: number): Promise<void> {
    await waitFor(() => this.healthy(), { timeoutMs, intervalMs: 100, message: 'a healthy Redis Cluster' });
  }

  /**
   * Whether every live node says `cluster_state:ok` with all slots served, all of them give the same slot
   * map with only live masters in it, and every live replica is synced with its master.
   */
  private async healthy(): Promise<boolean> {
    const live = this.nodes.filter((node) => node.alive);
    const livePorts = new Set(live.map((node) => node.port));
    const views = await Promise.all(
      live.map(async (node) => {
        const info = parseInfo(await redisCommand(node.port, this.access, ['CLUSTER', 'INFO']));
        const role = await roleOf(node.port, this.access);
        const ranges = await this.slotRanges(node.port);
        const ok =
          info.get('cluster_state') === 'ok' &&
          info.get('cluster_slots_ok') === String(CLUSTER_SLOTS) &&
          ranges.every((range) => livePorts.has(range.masterPort)) &&
          (role.role === 'master' || role.linkState === 'connected');
        return ok ? ranges.map((r) => `${r.start}-${r.end}@${r.masterPort}`).join(' ') : undefined;
      }),
    );
    return views.every((view) => view !== undefined && view === views[0]);
  }

  /** CLUSTER SLOTS as seen from `port`: slot ranges and their masters, in slot order. */
  private async slotRanges(port: number): Promise<Array<{ start: number; end: number; masterPort: number }>> {
    const reply = (await redisCommand(port, this.access, ['CLUSTER', 'SLOTS'])) as unknown[][];
    return reply
      .map((entry) => ({
        start: Number(entry[0]),
        end: Number(entry[1]),
        masterPort: Number((entry[2] as unknown[])[1]),
      }))
      .sort((a, b) => a.start - b.start);
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) node.alive = false;
    await this.resources.dispose();
  }
}

/** Runs `redis-cli` with `args`; rejects with its output when it fails or takes over 30 s. */
function runRedisCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(new Error(`redis-cli could not be run: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`redis-cli ${args.slice(-8).join(' ')} failed (${code ?? signal}):\n${output}`));
    });
  });
}

/**
 * Starts a Redis Cluster of `masters` masters with `replicasPerMaster` replicas each on free loopback ports and
 * resolves once every node reports it healthy: all slots served, one slot map, replicas synced. With `tls`,
 * every node and every link between nodes uses TLS. Fails with the Debian package to install when
 * redis-server, redis-cli (or, for `tls: true`, openssl) is missing; on any failure it stops what it started.
 */
export async function startRedisCluster({
  masters = 3,
  replicasPerMaster = 1,
  password,
  tls,
}: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`a Redis Cluster needs at least 3 masters (asked for ${masters})`);
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(`replicasPerMaster must be a whole number >= 0 (got ${replicasPerMaster})`);
  }
  requireRedisBinary('redis-server', 'redis-server');
  requireRedisBinary('redis-cli', 'redis-tools');
  const resources = new TopologyResources('cluster');
  try {
    const cluster = new RedisCluster(resources, password, resolveTopologyTls(tls, resources.dir));
    await cluster.startNodes(masters * (1 + replicasPerMaster));
    await cluster.create(replicasPerMaster);
    await cluster.waitHealthy(20_000);
    await cluster.refreshRoles();
    return cluster;
  } catch (err) {
    await resources.dispose();
    throw err;
  }
}
