/**
 * A load-generator process, driven by the orchestrator over the IPC channel: one request at a time per
 * operation, answered with `{ id, ok, result | error }`. Several of these share the sessions so no single
 * event loop limits the offered load, and the orchestrator reads each one's CPU from /proc.
 */
import { IdleLoad } from './idle.js';
import { runTurns } from './turn.js';
import { VoiceLoad } from './voice.js';

export type LoadRequest =
  | { op: 'voice.open'; args: Parameters<VoiceLoad['open']>[0] }
  | { op: 'voice.start' }
  | { op: 'voice.mark' }
  | { op: 'voice.stop'; drainMs: number }
  | { op: 'voice.close' }
  | { op: 'idle.open'; args: Parameters<IdleLoad['open']>[0] }
  | { op: 'idle.status' }
  | { op: 'idle.close' }
  | { op: 'turn.run'; args: Parameters<typeof runTurns>[0] };

export interface LoadReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const voice = new VoiceLoad();
const idle = new IdleLoad();

async function handle(req: LoadRequest): Promise<unknown> {
  switch (req.op) {
    case 'voice.open':
      return voice.open(req.args);
    case 'voice.start':
      return voice.start();
    case 'voice.mark':
      return voice.mark();
    case 'voice.stop':
      return voice.stop(req.drainMs);
    case 'voice.close':
      return voice.close();
    case 'idle.open':
      return idle.open(req.args);
    case 'idle.status':
      return idle.stillOpen();
    case 'idle.close':
      return idle.close();
    case 'turn.run':
      return runTurns(req.args);
  }
}

if (!process.send) throw new Error('bench/load/child.ts runs as a forked child of bench/run.ts');
process.on('message', (msg: { id: number; req: LoadRequest }) => {
  handle(msg.req).then(
    (result) => process.send?.({ id: msg.id, ok: true, result } satisfies LoadReply),
    (err: unknown) =>
      process.send?.({
        id: msg.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies LoadReply),
  );
});
// The orchestrator going away (crash, Ctrl-C) must not leave generators streaming.
process.on('disconnect', () => process.exit(0));
