/**
 * Idle connections: open, proven alive with one seed ping/pong, then silent. The orchestrator measures what
 * the servers hold for them.
 */
import type WebSocket from 'ws';
import { closeAll, connect, type OpenManyResult, openMany } from './connect.js';
import { messageType } from './frames.js';

export interface IdleOpenArgs {
  url: string;
  count: number;
  firstIndex: number;
  localAddress?: string;
  concurrency: number;
  timeoutMs: number;
}

const PING = JSON.stringify({ type: 'ping', ping: { timestamp: 1 } });

export class IdleLoad {
  private sockets: WebSocket[] = [];
  private closedEarly = 0;
  private stopping = false;

  async open(args: IdleOpenArgs): Promise<OpenManyResult & { closedEarly: number }> {
    const result = await openMany(args.count, args.concurrency, async (i) => {
      const ws = await connect(`${args.url}/idle_${args.firstIndex + i}`, {
        localAddress: args.localAddress,
        timeoutMs: args.timeoutMs,
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no pong within ${args.timeoutMs} ms`)),
          args.timeoutMs,
        );
        const onMessage = (data: Buffer) => {
          if (messageType(data) !== 'pong') return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          resolve();
        };
        ws.on('message', onMessage);
        ws.send(PING);
      });
      ws.once('close', () => {
        if (!this.stopping) this.closedEarly++;
      });
      this.sockets.push(ws);
    });
    return { ...result, closedEarly: this.closedEarly };
  }

  /** Sockets the server closed while they idled. */
  stillOpen(): { open: number; closedEarly: number } {
    return { open: this.sockets.length - this.closedEarly, closedEarly: this.closedEarly };
  }

  async close(): Promise<void> {
    this.stopping = true;
    await closeAll(this.sockets, 10_000);
    this.sockets = [];
    this.closedEarly = 0;
    this.stopping = false;
  }
}
