/**
 * Idle connections: open, proven alive with one round trip (a seed ping/pong; on `/v1/realtime` a
 * `session.update` answered by `session.updated`), then silent. Locally the orchestrator measures what the
 * servers hold for them; remotely it counts how many were opened and how many the server closed while idle.
 */
import type WebSocket from 'ws';
import type { VoiceRoute } from '../report/types.js';
import {
  ConnectFailure,
  closeAll,
  closeReason,
  connect,
  errorCode,
  type OpenManyResult,
  openMany,
  rampDelay,
  sessionTarget,
} from './connect.js';
import { messageType } from './frames.js';

export interface IdleOpenArgs {
  url: string;
  count: number;
  firstIndex: number;
  localAddress?: string;
  concurrency: number;
  timeoutMs: number;
  /** The protocol spoken (default seed). */
  route?: VoiceRoute;
  /** Remote mode: gateway credentials, in turn by index (see `VoiceOpenArgs`). */
  tokens?: string[];
  /** Remote mode on the anonymous route (see `VoiceOpenArgs`). */
  user?: string;
  ca?: string;
  /** Connects spread over this long, by global index out of `total`. */
  rampMs?: number;
  total?: number;
}

/** The liveness round trip of each route: what to send and the answer's type. */
const PROBES: Record<VoiceRoute, { send: string; answer: string }> = {
  seed: { send: JSON.stringify({ type: 'ping', ping: { timestamp: 1 } }), answer: 'pong' },
  openai: {
    send: JSON.stringify({ type: 'session.update', session: { type: 'realtime' } }),
    answer: 'session.updated',
  },
};

export class IdleLoad {
  private sockets: WebSocket[] = [];
  private closedEarly = 0;
  private closeReasons: Record<string, number> = {};
  private stopping = false;

  async open(args: IdleOpenArgs): Promise<OpenManyResult & { closedEarly: number }> {
    const route = args.route ?? 'seed';
    const total = args.total ?? args.count;
    const result = await openMany(
      args.count,
      args.concurrency,
      (i) => this.openOne(args, route, args.firstIndex + i),
      (i) => rampDelay(args.firstIndex + i, total, args.rampMs ?? 0),
    );
    return { ...result, closedEarly: this.closedEarly };
  }

  private async openOne(args: IdleOpenArgs, route: VoiceRoute, index: number): Promise<void> {
    const target = sessionTarget(
      { url: args.url, route, tokens: args.tokens, user: args.user },
      index,
      'idle_',
    );
    const ws = await connect(target.url, {
      localAddress: args.localAddress,
      timeoutMs: args.timeoutMs,
      headers: target.headers,
      ca: args.ca,
    });
    const probe = PROBES[route];
    await new Promise<void>((resolve, reject) => {
      let lastError: string | undefined;
      const done = () => {
        clearTimeout(timer);
        ws.off('message', onMessage);
        ws.off('close', onClose);
      };
      const timer = setTimeout(() => {
        done();
        ws.terminate();
        reject(new ConnectFailure('timeout', `no ${probe.answer} within ${args.timeoutMs} ms`));
      }, args.timeoutMs);
      const onMessage = (data: Buffer) => {
        lastError = errorCode(data) ?? lastError;
        if (messageType(data) !== probe.answer) return;
        done();
        resolve();
      };
      const onClose = (code: number) => {
        done();
        reject(new ConnectFailure(closeReason(code, lastError), `closed before ${probe.answer} (${code})`));
      };
      ws.on('message', onMessage);
      ws.once('close', onClose);
      ws.send(probe.send);
    });
    ws.once('close', (code: number, reason: Buffer) => {
      if (this.stopping) return;
      this.closedEarly++;
      const key = `close ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`;
      this.closeReasons[key] = (this.closeReasons[key] ?? 0) + 1;
    });
    this.sockets.push(ws);
  }

  /** Sockets the server closed while they idled, and their close codes. */
  stillOpen(): { open: number; closedEarly: number; closeReasons: Record<string, number> } {
    return {
      open: this.sockets.length - this.closedEarly,
      closedEarly: this.closedEarly,
      closeReasons: { ...this.closeReasons },
    };
  }

  async close(): Promise<void> {
    this.stopping = true;
    await closeAll(this.sockets, 10_000);
    this.sockets = [];
    this.closedEarly = 0;
    this.closeReasons = {};
    this.stopping = false;
  }
}
