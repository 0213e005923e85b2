import type { SessionConfig } from '@rtv/protocol';
import { fitHistoryItem, HISTORY_ITEM_MAX_BYTES, HISTORY_MAX_BYTES } from './history-budget.js';
import { randomId } from './ids.js';
import type { Keys } from './keys.js';
import { isCluster, type RedisClient } from './redis.js';
import {
  APPEND_HISTORY,
  ATTACH_SESSION,
  CLAIM_SESSION,
  CREATE_SESSION,
  MARK_DETACHED,
  ProgressStatus,
  RESTORE_CLIENT_SIDE,
  RESTORE_OWNER_SIDE,
  REVOKE_RESUME,
  SAVE_CONFIG,
  SAVE_PROGRESS,
  SAVE_PROGRESS_BATCH,
  SessionScript,
  type SessionScriptClient,
  type SessionScriptPipeline,
} from './session-scripts.js';

/**
 * The session record (DESIGN §3): one hash per session (`keys.session(sid)`) and its conversation history
 * (`keys.sessionHistory(sid)`), both in the `{sid}` hash slot. This module is the only place that knows the
 * record's field names, its lifetime and the scripts that change it; the gateway, the worker and the status
 * API all go through {@link SessionRecords}.
 */

/** Hash fields of the session record. The Lua scripts in `session-scripts.ts` use the same names. */
export const SessionField = {
  /** User id the session belongs to (a resume must present the same user). */
  user: 'user',
  /** Gateway the client is (or was last) attached to. */
  gateway: 'gateway',
  /** Worker that owns the session (holds its lease and provider socket). */
  owner: 'owner',
  /** Bumped by every claim; frames stamped with an older epoch are fenced off (DESIGN §4.8). */
  epoch: 'epoch',
  /** Last client frame seq the owner applied and saved. */
  appliedSeq: 'seq',
  /** The effective public session configuration, as JSON. */
  config: 'config',
  /** `queued` until a worker claims it, then `active`. */
  state: 'state',
  /** `attached` or `detached` (the client is between sockets, within the resume grace). */
  client: 'client',
  /** Last server frame seq the client's previous socket was sent (resume from there). */
  clientSeq: 'client_seq',
  /**
   * Attach generation: 0 at creation, bumped by every resume. A resume token names the generation it was issued
   * for, so each token works once; it also numbers each connection's client frames above every earlier one's.
   */
  attach: 'attach',
  /** When the client's socket dropped (Unix ms), while `client` is `detached`. */
  detachedMs: 'detached_ms',
  /** When the session was created (Unix ms). */
  createdMs: 'created_ms',
  /** When the current owner claimed it (Unix ms). */
  boundMs: 'bound_ms',
  /** Stored bytes of the history list, kept by the append script (recounted from the list when absent). */
  historyBytes: 'history_bytes',
} as const;

/** How long a record lives without a refresh; the owner refreshes it while the session runs. */
export const DEFAULT_SESSION_TTL_MS = 2 * 60 * 60 * 1000;

/** Conversation items kept per session (the oldest are trimmed). */
export const HISTORY_MAX_ITEMS = 200;

/** The variable every service that writes session records reads (spread into its config schema). */
export const SESSION_ENV = {
  RTV_SESSION_TTL_MS: {
    type: 'int',
    min: 60_000,
    default: DEFAULT_SESSION_TTL_MS,
    doc: 'TTL of session records; set when a session is created and refreshed while it runs',
  },
} as const;

const SESSION_ID_PATTERN = /^sess_[0-9A-Za-z]{21}$/;

/** A new random session id (`sess_` + 21 base62 characters, about 125 bits). */
export function newSessionId(): string {
  return randomId('sess_');
}

/** True when `value` has the form of a session id (so it is safe to put in a key). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}

/** What a session job carries in BullMQ: enough for any worker to find the record and open the session. */
export interface SessionJobData {
  sid: string;
  userId: string;
  gatewayId: string;
  createdMs: number;
}

/** The record as the owning worker holds it after a claim. */
export interface SessionState {
  sid: string;
  userId: string;
  gatewayId: string;
  /** This owner's epoch: bumped on every claim, stamped on every frame it sends (DESIGN §4.8). */
  epoch: number;
  config: SessionConfig;
  /** Last client seq a previous owner applied (0 for a new session). */
  lastSeq: number;
  /** False while the client is between sockets (resume grace): frames are kept, not sent. */
  clientAttached: boolean;
  /** When the session was created (Unix ms; 0 when the record does not say). */
  createdMs: number;
  /** When the client's socket dropped (Unix ms), if the record says it is detached and when. */
  detachedMs?: number;
}

/**
 * A text turn of the history list: what the user typed or said (the final transcript of speech), or the
 * transcript of an assistant reply. `at` is Unix ms. Items stored before the union existed are all of this
 * kind and read unchanged.
 */
export interface TextHistoryItem {
  role: 'user' | 'assistant';
  type: 'text';
  text: string;
  at: number;
  /**
   * A typed user turn: the seq of the client frame that carried it, so a new owner skips that frame when the
   * gateway replays it after a failover (it was answered already).
   */
  seq?: number;
  /** The text was cut to fit the per-item byte budget (`fitHistoryItem`). */
  truncated?: true;
  /**
   * The provider's item id (OpenAI-compatible sessions): a restore re-creates the item under the same id, so the
   * ids a client already holds stay valid on the next owner.
   */
  item_id?: string;
}

/** A function call the model made (announced to the client as `response.function_call`). */
export interface FunctionCallHistoryItem {
  type: 'function_call';
  call_id: string;
  name: string;
  /** The arguments JSON text exactly as the model produced it (unless `truncated`). */
  arguments: string;
  at: number;
  /** The arguments were cut to fit the per-item byte budget: no longer complete JSON. */
  truncated?: true;
  /** The provider's item id (OpenAI-compatible sessions), kept across a restore. */
  item_id?: string;
  /** Absent: lets code that reads `item.text` of any item keep compiling (it is undefined here). */
  text?: never;
}

/** The client's result for a function call (`function_call_output` input). */
export interface FunctionCallOutputHistoryItem {
  type: 'function_call_output';
  call_id: string;
  output: string;
  at: number;
  /** The output was cut to fit the per-item byte budget. */
  truncated?: true;
  /** The provider's item id (OpenAI-compatible sessions), kept across a restore. */
  item_id?: string;
  /** Absent, as on {@link FunctionCallHistoryItem}. */
  text?: never;
}

/** One conversation item of the history list, replayed into every fresh provider session. */
export type HistoryItem = TextHistoryItem | FunctionCallHistoryItem | FunctionCallOutputHistoryItem;

/** A resuming client's view of the record after it re-attached. */
export interface AttachResult {
  status: 'attached';
  owner: string | undefined;
  /** The new attach generation: the next resume token names it. */
  generation: number;
  /** Last server seq the previous socket was sent (0 when unknown). */
  clientSeq: number;
  /** When the session was created (Unix ms; 0 when the record does not say). */
  createdMs: number;
  /** The gateway the client was attached to before. */
  previousGateway: string | undefined;
}

/**
 * Why a resume did not attach: `not_found` (no such session for this user), `stale` (the token's generation
 * was used or revoked), `in_use` (the client is still attached and the resumer may not take it over).
 */
export type AttachRefusal = { status: 'not_found' | 'stale' | 'in_use' };

/** What a gateway knows of a live session's record, put back by {@link SessionRecords.restoreClientSide}. */
export interface ClientSideRestore {
  userId: string;
  gatewayId: string;
  createdMs: number;
  /** The connection's attach generation (its resume token names it). */
  generation: number;
  /** Whether the client's socket is still open. */
  attached: boolean;
  /** The newest owner epoch the gateway has seen for the session. */
  epoch: number;
  /** The session's configuration as the gateway knows it (the owner's, if it restores too, wins). */
  config: SessionConfig;
}

/** The record after a restore: whether it was re-created, its epoch and owner (undefined: none yet). */
export interface RestoreResult {
  created: boolean;
  epoch: number;
  owner: string | undefined;
}

/** What a resume presents to {@link SessionRecords.attach}. */
export interface AttachRequest {
  userId: string;
  gatewayId: string;
  /** The attach generation the resume token names. */
  generation: number;
  /** The resumer proved the same credential: it may take the session from a live connection. */
  takeOver: boolean;
}

/** Which connection a detach is about: only the one the record still names is detached. */
export interface DetachRequest {
  gatewayId: string;
  /** That connection's attach generation; undefined: whichever (the owner detaching a dead gateway's sessions). */
  generation?: number;
  /** Last server seq delivered to the client; undefined keeps the stored one. */
  deliveredSeq?: number;
}

/** The whole record as the status API reports it. */
export interface SessionSnapshot {
  sid: string;
  userId: string;
  gatewayId: string | undefined;
  owner: string | undefined;
  epoch: number;
  state: string;
  client: 'attached' | 'detached';
  createdMs: number;
  config: Record<string, unknown>;
  history: HistoryItem[];
}

/** One session's progress for {@link SessionRecords.saveProgress}. */
export interface ProgressEntry {
  state: SessionState;
  /** Highest client seq applied. */
  seq: number;
  workerId: string;
}

export interface SessionRecordsOptions {
  /** @defaultValue {@link DEFAULT_SESSION_TTL_MS} */
  ttlMs?: number;
  /** @defaultValue {@link HISTORY_MAX_ITEMS} */
  historyMaxItems?: number;
  /** Stored bytes of a session's whole history; the oldest items go first. @defaultValue {@link HISTORY_MAX_BYTES} */
  historyMaxBytes?: number;
  /** Stored bytes of one item; a longer text is cut. @defaultValue {@link HISTORY_ITEM_MAX_BYTES} */
  historyItemMaxBytes?: number;
}

/** What one {@link SessionRecords.appendHistory} did to stay within the history's budgets. */
export interface HistoryAppendResult {
  /** The item's text was cut to the per-item budget. */
  truncated: boolean;
  /** Oldest items dropped to stay within the item cap. */
  droppedForCount: number;
  /** Oldest items dropped to stay within the per-session byte budget. */
  droppedForBytes: number;
}

/**
 * Reads and writes session records. Every change runs as one script (EVALSHA after the first call) that
 * declares each key it touches in KEYS, all in the session's slot, so the same calls work on Redis Cluster.
 * Called per connection, per claim, per progress tick and per history item, never per frame.
 */
export class SessionRecords {
  private readonly redis: RedisClient & SessionScriptClient;
  private readonly ttlMs: number;
  private readonly historyMaxItems: number;
  private readonly historyMaxBytes: number;
  private readonly historyItemMaxBytes: number;
  /** When this process last refreshed each session's TTL in a progress save. */
  private readonly ttlRefreshedMs = new Map<string, number>();
  private ttlSweptMs = 0;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    opts: SessionRecordsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.historyMaxItems = opts.historyMaxItems ?? HISTORY_MAX_ITEMS;
    this.historyMaxBytes = opts.historyMaxBytes ?? HISTORY_MAX_BYTES;
    // The newest item is always kept: one item larger than the whole budget would break the bound.
    this.historyItemMaxBytes = Math.min(
      opts.historyItemMaxBytes ?? HISTORY_ITEM_MAX_BYTES,
      this.historyMaxBytes,
    );
    const scripts: Array<[SessionScript, string]> = [
      [SessionScript.create, CREATE_SESSION],
      [SessionScript.attach, ATTACH_SESSION],
      [SessionScript.markDetached, MARK_DETACHED],
      [SessionScript.claim, CLAIM_SESSION],
      [SessionScript.saveProgress, SAVE_PROGRESS],
      [SessionScript.saveProgressBatch, SAVE_PROGRESS_BATCH],
      [SessionScript.saveProgressOfOne, SAVE_PROGRESS_BATCH],
      [SessionScript.appendHistory, APPEND_HISTORY],
      [SessionScript.saveConfig, SAVE_CONFIG],
      [SessionScript.revokeResume, REVOKE_RESUME],
      [SessionScript.restoreClientSide, RESTORE_CLIENT_SIDE],
      [SessionScript.restoreOwnerSide, RESTORE_OWNER_SIDE],
    ];
    // ioredis keeps the scripts per connection and re-loads them after a Redis restart (NOSCRIPT).
    for (const [name, lua] of scripts) {
      if (name in redis) continue;
      // A variable-key script (null) takes its key count as its first argument.
      const numberOfKeys = name in SCRIPT_KEY_COUNT ? (SCRIPT_KEY_COUNT[name] ?? undefined) : 1;
      redis.defineCommand(name, { ...(numberOfKeys === undefined ? {} : { numberOfKeys }), lua });
    }
    this.redis = redis as RedisClient & SessionScriptClient;
  }

  /**
   * Puts back the client side of a record Redis lost (or completes one the owner restored first): what the
   * gateway of a live session knows. See `restoreSessionClientSide-1`.
   */
  async restoreClientSide(sid: string, side: ClientSideRestore): Promise<RestoreResult> {
    const [created, epoch, owner] = await this.redis[SessionScript.restoreClientSide](
      this.keys.session(sid),
      side.userId,
      side.gatewayId,
      side.createdMs,
      side.generation,
      side.attached ? 'attached' : 'detached',
      side.epoch,
      JSON.stringify(side.config),
      this.ttlMs,
    );
    return restoreResult(created, epoch, owner);
  }

  /**
   * Puts back the owner's side of its record after Redis lost it or the lease lapsed in an outage; reports the
   * record's epoch afterwards (newer than the owner's: someone else took the session). See
   * `restoreSessionOwnerSide-1`.
   */
  async restoreOwnerSide(entry: ProgressEntry, attached: boolean): Promise<RestoreResult> {
    const { state, seq, workerId } = entry;
    const [created, epoch, owner] = await this.redis[SessionScript.restoreOwnerSide](
      this.keys.session(state.sid),
      state.epoch,
      seq,
      this.ttlMs,
      workerId,
      state.gatewayId,
      state.userId,
      JSON.stringify(state.config),
      state.createdMs,
      attached ? 'attached' : 'detached',
    );
    return restoreResult(created, epoch, owner);
  }

  /** Writes a new session's record (state `queued`, client attached). */
  async create(data: SessionJobData, config: SessionConfig): Promise<void> {
    await this.redis[SessionScript.create](
      this.keys.session(data.sid),
      data.userId,
      data.gatewayId,
      data.createdMs,
      JSON.stringify(config),
      this.ttlMs,
    );
  }

  /**
   * Re-attaches a session for a resuming client when the generation its token names is the current one and
   * the client is detached (or `takeOver`), bumping the generation in the same step; else says why not and
   * changes nothing.
   */
  async attach(sid: string, req: AttachRequest): Promise<AttachResult | AttachRefusal> {
    const res = await this.redis[SessionScript.attach](
      this.keys.session(sid),
      req.userId,
      req.gatewayId,
      req.generation,
      req.takeOver ? '1' : '0',
    );
    if (!res) return { status: 'not_found' };
    if (res[0] === 'stale' || res[0] === 'in_use') return { status: res[0] };
    const [, owner, generation, clientSeq, createdMs, previousGateway] = res;
    return {
      status: 'attached',
      owner: typeof owner === 'string' ? owner : undefined,
      generation: Number(generation),
      clientSeq: Number(clientSeq ?? 0),
      createdMs: Number(createdMs ?? 0),
      previousGateway: typeof previousGateway === 'string' ? previousGateway : undefined,
    };
  }

  /**
   * Records that the client's socket dropped, when, and which server frame it was last sent (for resume).
   * Only if the record still names that connection; returns whether it did.
   */
  async markDetached(sid: string, req: DetachRequest): Promise<boolean> {
    const done = await this.redis[SessionScript.markDetached](
      this.keys.session(sid),
      req.deliveredSeq ?? '',
      Date.now(),
      req.gatewayId,
      req.generation ?? '',
    );
    return done === 1;
  }

  /**
   * Spends the attach generation a leaked resume token names (it was seen in a URL), so that token no longer
   * resumes. Returns whether it was the current generation.
   */
  async revokeResume(sid: string, userId: string, generation: number): Promise<boolean> {
    return (await this.redis[SessionScript.revokeResume](this.keys.session(sid), userId, generation)) === 1;
  }

  /**
   * Takes the session for `workerId`: bumps the epoch (fencing off any previous owner) and refreshes the TTL.
   * Undefined when the record no longer exists.
   */
  async claim(sid: string, workerId: string): Promise<SessionState | undefined> {
    const res = await this.redis[SessionScript.claim](
      this.keys.session(sid),
      workerId,
      Date.now(),
      this.ttlMs,
    );
    if (!res) return undefined;
    const [epoch, gatewayId, userId, config, seq, client, createdMs, detachedMs] = res;
    if (!gatewayId || !userId || !config) return undefined;
    return {
      createdMs: Number(createdMs ?? 0),
      ...(detachedMs ? { detachedMs: Number(detachedMs) } : {}),
      sid,
      userId,
      gatewayId,
      epoch: Number(epoch),
      config: JSON.parse(config) as SessionConfig,
      lastSeq: Number(seq ?? 0),
      clientAttached: client !== 'detached',
    };
  }

  /**
   * Persists applied seqs for many sessions and returns the sids whose lease was lost (a newer epoch holds the
   * record). One script call per tick on a single Redis (one per session on a cluster, where each is a slot of
   * its own), carrying only epochs and seqs; a session's TTL is refreshed a few times per TTL, not every tick.
   * A missing record is re-created from the owner's state, with a second call for those sessions only.
   */
  async saveProgress(entries: readonly ProgressEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const now = Date.now();
    this.forgetOldTtlRefreshes(now);
    const statuses = await this.saveSeqs(entries, now);
    const lost: string[] = [];
    const missing: ProgressEntry[] = [];
    statuses.forEach((status, i) => {
      const entry = entries[i]!;
      if (status === ProgressStatus.lost) lost.push(entry.state.sid);
      else if (status === ProgressStatus.missing) missing.push(entry);
      else if (status === ProgressStatus.held) return;
      // An error leaves the entry as it was: the next tick tries again.
    });
    if (missing.length > 0) lost.push(...(await this.recreateRecords(missing, now)));
    return lost;
  }

  /** Runs `saveSessionsProgress-N`; per entry its {@link ProgressStatus}, or undefined when its call failed. */
  private async saveSeqs(entries: readonly ProgressEntry[], now: number): Promise<Array<number | undefined>> {
    const redis = this.redis as unknown as SessionScriptPipeline;
    const refreshEvery = this.ttlMs / TTL_REFRESHES_PER_TTL;
    const argsOf = (batch: readonly ProgressEntry[]): Array<string | number> => {
      const args: Array<string | number> = [batch.length];
      for (const { state } of batch) args.push(this.keys.session(state.sid));
      args.push(this.ttlMs);
      for (const { state, seq } of batch) {
        const refreshed = this.ttlRefreshedMs.get(state.sid);
        const refresh = refreshed === undefined || now - refreshed >= refreshEvery;
        if (refresh) this.ttlRefreshedMs.set(state.sid, now);
        args.push(state.epoch, seq, refresh ? '1' : '0');
      }
      return args;
    };
    // A cluster takes one session per call (its slot), through the fixed one-key form of the script: its
    // auto-pipelining groups commands by their first argument, which must then be the key. A single Redis takes
    // a chunk per call, so that one script never holds the server for long.
    const cluster = isCluster(this.redis);
    const chunk = cluster ? 1 : PROGRESS_BATCH_MAX;
    const calls: Array<Promise<unknown>> = [];
    for (let at = 0; at < entries.length; at += chunk) {
      const batch = entries.slice(at, at + chunk);
      const [numKeys, ...rest] = argsOf(batch) as [number, ...Array<string | number>];
      const call = cluster
        ? redis[SessionScript.saveProgressOfOne](...(rest as [string, ...Array<string | number>]))
        : redis[SessionScript.saveProgressBatch](numKeys, ...rest);
      calls.push(
        (call as Promise<unknown>).then(
          (reply) => reply as number[],
          () => {
            // Nothing was written: refresh these TTLs at the next save.
            for (const { state } of batch) this.ttlRefreshedMs.delete(state.sid);
            return batch.map(() => undefined);
          },
        ),
      );
    }
    return (await Promise.all(calls)).flat() as Array<number | undefined>;
  }

  /**
   * Re-creates records Redis lost from their owners' state (`saveSessionProgress-1`); returns the sids a newer
   * epoch took meanwhile (a gateway may have put the record back first).
   */
  private async recreateRecords(entries: readonly ProgressEntry[], now: number): Promise<string[]> {
    const redis = this.redis as unknown as SessionScriptPipeline;
    const replies = await Promise.all(
      entries.map(({ state, seq, workerId }) => {
        this.ttlRefreshedMs.set(state.sid, now);
        return (
          redis[SessionScript.saveProgress](
            this.keys.session(state.sid),
            state.epoch,
            seq,
            this.ttlMs,
            workerId,
            state.gatewayId,
            state.userId,
            JSON.stringify(state.config),
            state.createdMs,
          ) as Promise<unknown>
        ).then(
          (ok) => ok,
          () => undefined,
        );
      }),
    );
    return entries.filter((_, i) => replies[i] === 0).map((e) => e.state.sid);
  }

  /** Drops TTL-refresh times older than a TTL (their sessions ended, or refresh at their next save anyway). */
  private forgetOldTtlRefreshes(now: number): void {
    if (now - this.ttlSweptMs < this.ttlMs / TTL_REFRESHES_PER_TTL) return;
    this.ttlSweptMs = now;
    for (const [sid, at] of this.ttlRefreshedMs) if (now - at >= this.ttlMs) this.ttlRefreshedMs.delete(sid);
  }

  /**
   * Appends one conversation item, its text cut to `historyItemMaxBytes` (marked `truncated`), then drops the
   * oldest items until the list holds at most `historyMaxItems` items and `historyMaxBytes` stored bytes, in one
   * script (the byte total is kept in the session hash, in the same slot).
   */
  async appendHistory(sid: string, item: HistoryItem): Promise<HistoryAppendResult> {
    const fitted = fitHistoryItem(item, this.historyItemMaxBytes);
    const [, droppedForCount, droppedForBytes] = await this.redis[SessionScript.appendHistory](
      this.keys.sessionHistory(sid),
      this.keys.session(sid),
      fitted.json,
      this.historyMaxItems,
      this.historyMaxBytes,
      this.ttlMs,
    );
    return { truncated: fitted.truncated, droppedForCount, droppedForBytes };
  }

  /** The conversation so far, oldest first; corrupt entries are skipped rather than failing a restore. */
  async loadHistory(sid: string): Promise<HistoryItem[]> {
    return parseHistory(await this.redis.lrange(this.keys.sessionHistory(sid), 0, -1));
  }

  /** Stores the effective configuration of a session that still exists. */
  async saveConfig(sid: string, config: SessionConfig): Promise<void> {
    await this.redis[SessionScript.saveConfig](this.keys.session(sid), JSON.stringify(config));
  }

  /** Deletes the record and its history (both keys share the session's slot). */
  async remove(sid: string): Promise<void> {
    await this.redis.del(this.keys.session(sid), this.keys.sessionHistory(sid));
  }

  /** The whole record with its history, or undefined when there is none. */
  async read(sid: string): Promise<SessionSnapshot | undefined> {
    const [hash, items] = await Promise.all([
      this.redis.hgetall(this.keys.session(sid)),
      this.redis.lrange(this.keys.sessionHistory(sid), 0, -1),
    ]);
    const userId = hash[SessionField.user];
    if (!userId) return undefined;
    return {
      sid,
      userId,
      gatewayId: hash[SessionField.gateway],
      owner: hash[SessionField.owner],
      epoch: Number(hash[SessionField.epoch] ?? 0),
      state: hash[SessionField.state] ?? 'unknown',
      client: hash[SessionField.client] === 'detached' ? 'detached' : 'attached',
      createdMs: Number(hash[SessionField.createdMs] ?? 0),
      config: parseConfig(hash[SessionField.config]),
      history: parseHistory(items),
    };
  }
}

function restoreResult(created: number, epoch: string | number | null, owner: string | null): RestoreResult {
  return { created: created === 1, epoch: Number(epoch ?? 0), owner: owner || undefined };
}

function parseHistory(raw: readonly string[]): HistoryItem[] {
  const items: HistoryItem[] = [];
  for (const r of raw) {
    try {
      const item = parseHistoryItem(JSON.parse(r) as unknown);
      if (item) items.push(item);
    } catch {
      // A corrupt entry is skipped.
    }
  }
  return items;
}

/** One stored item, or undefined when it is not a history item this version knows (skipped, like corrupt JSON). */
function parseHistoryItem(value: unknown): HistoryItem | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const at = typeof v.at === 'number' && Number.isFinite(v.at) ? v.at : 0;
  const str = (key: string) => (typeof v[key] === 'string' ? (v[key] as string) : undefined);
  switch (v.type) {
    case 'function_call': {
      const [callId, name, args] = [str('call_id'), str('name'), str('arguments')];
      if (callId === undefined || name === undefined || args === undefined) return undefined;
      return { type: 'function_call', call_id: callId, name, arguments: args, at, ...marks(v) };
    }
    case 'function_call_output': {
      const [callId, output] = [str('call_id'), str('output')];
      if (callId === undefined || output === undefined) return undefined;
      return { type: 'function_call_output', call_id: callId, output, at, ...marks(v) };
    }
    case 'text':
    case undefined: {
      const text = str('text');
      if ((v.role !== 'user' && v.role !== 'assistant') || text === undefined) return undefined;
      const seq = typeof v.seq === 'number' && Number.isSafeInteger(v.seq) ? { seq: v.seq } : {};
      return { role: v.role, type: 'text', text, at, ...seq, ...marks(v) };
    }
    default:
      return undefined;
  }
}

/** The optional marks every item kind may carry: cut to fit, and the provider's item id. */
function marks(v: Record<string, unknown>): { truncated?: true; item_id?: string } {
  return {
    ...(v.truncated === true ? { truncated: true as const } : {}),
    ...(typeof v.item_id === 'string' ? { item_id: v.item_id } : {}),
  };
}

/** Scripts that declare more than the one key (the session hash) the others take. */
/**
 * How many times per TTL a live session's TTL is refreshed by progress saves: at 8, a record always has at least
 * 7/8 of its TTL left, and a 2-hour TTL costs one PEXPIRE per session per 15 minutes instead of one per tick.
 */
const TTL_REFRESHES_PER_TTL = 8;
/** Sessions per `saveSessionsProgress-N` call on a single Redis. */
const PROGRESS_BATCH_MAX = 256;

const SCRIPT_KEY_COUNT: Partial<Record<SessionScript, number | null>> = {
  [SessionScript.appendHistory]: 2,
  [SessionScript.saveProgressBatch]: null,
};

function parseConfig(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const value = JSON.parse(raw) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
