/**
 * The faults of a soak: when each one happens, and how it is done to the real processes. A worker is SIGKILLed
 * every `killEveryS` and restarted as `npm start` restarts it; one gateway is drained (SIGTERM) and restarted;
 * Redis is SIGKILLed, kept down about 3 s and started again on the same port. The drain and the Redis restart
 * fall halfway between two worker kills, so each fault's pause can be told apart from the others'.
 */
import type { SoakStack, SupervisedService } from './soak-stack.js';

export type FaultKind = 'worker-kill' | 'gateway-drain' | 'redis-restart';

export const FAULT_NAMES: Record<FaultKind, string> = {
  'worker-kill': 'worker SIGKILL',
  'gateway-drain': 'gateway drain (SIGTERM)',
  'redis-restart': 'Redis restart (SIGKILL)',
};

/** How long Redis stays down. */
export const REDIS_DOWN_MS = 3000;

export interface PlannedFault {
  kind: FaultKind;
  /** Seconds after streaming started. */
  atS: number;
}

export interface FaultRecord extends PlannedFault {
  name: string;
  /** When it was actually done (later than planned if the previous fault was still restarting things). */
  doneAtS: number;
  /** The process it hit: `worker-2 (pid 1234)`. */
  target: string;
  /** How the process ended, how long Redis was down, how long the restart took. */
  detail: string;
  /** Seconds until the restarted service answered /readyz (or Redis PING) again. */
  backAfterS: number;
  /** Set when the fault could not be done or the service did not come back. */
  error?: string;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Worker kills at every multiple of `killEveryS` that leaves a quarter period before the end; the drain and
 * the Redis restart at the midpoints between events nearest half and three quarters of the run. A run shorter
 * than three kill periods gets one fault of each kind, at a quarter, half and three quarters.
 */
export function planFaults(durationS: number, killEveryS: number): PlannedFault[] {
  if (durationS < 3 * killEveryS) {
    return [
      { kind: 'worker-kill', atS: durationS / 4 },
      { kind: 'gateway-drain', atS: durationS / 2 },
      { kind: 'redis-restart', atS: (3 * durationS) / 4 },
    ];
  }
  const kills: number[] = [];
  for (let t = killEveryS; t <= durationS - killEveryS / 4; t += killEveryS) kills.push(t);
  const bounds = [0, ...kills, durationS];
  const midpoints = bounds.slice(1).map((end, i) => (bounds[i]! + end) / 2);
  const nearest = (target: number, taken: number[]) =>
    midpoints
      .filter((m) => !taken.includes(m))
      .reduce((best, m) => (Math.abs(m - target) < Math.abs(best - target) ? m : best));
  const drain = nearest(durationS / 2, []);
  const redis = nearest((3 * durationS) / 4, [drain]);
  const faults: PlannedFault[] = [
    ...kills.map((atS) => ({ kind: 'worker-kill' as const, atS })),
    { kind: 'gateway-drain', atS: drain },
    { kind: 'redis-restart', atS: redis },
  ];
  return faults.sort((a, b) => a.atS - b.atS);
}

/** The service of `services` carrying the most sessions or connections (the first on a tie). */
async function busiest(services: SupervisedService[]): Promise<SupervisedService> {
  const loads = await Promise.all(services.map((s) => s.load()));
  let best = 0;
  loads.forEach((l, i) => {
    if (l > loads[best]!) best = i;
  });
  return services[best]!;
}

/** Does each planned fault to the stack's processes and records what happened. */
export class FaultInjector {
  constructor(
    private readonly stack: SoakStack,
    /** Seconds since streaming started. */
    private readonly nowS: () => number,
  ) {}

  async run(fault: PlannedFault): Promise<FaultRecord> {
    const record: FaultRecord = {
      ...fault,
      name: FAULT_NAMES[fault.kind],
      doneAtS: round1(this.nowS()),
      target: '',
      detail: '',
      backAfterS: 0,
    };
    try {
      if (fault.kind === 'redis-restart') await this.restartRedis(record);
      else await this.restartService(fault.kind, record);
    } catch (err) {
      record.error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    }
    return record;
  }

  private async restartService(kind: FaultKind, record: FaultRecord): Promise<void> {
    const drain = kind === 'gateway-drain';
    const service = await busiest(drain ? this.stack.gateways : this.stack.workers);
    const load = await service.load();
    record.target = `${service.tag} (pid ${service.pid}, ${load} ${drain ? 'connections' : 'sessions'})`;
    const how = await service.signal(drain ? 'SIGTERM' : 'SIGKILL');
    const exitedS = this.nowS();
    await service.restart();
    record.backAfterS = round1(this.nowS() - record.doneAtS);
    record.detail = `exited (${how}) after ${round1(exitedS - record.doneAtS)} s, ready again (pid ${service.pid}) after ${record.backAfterS} s`;
  }

  private async restartRedis(record: FaultRecord): Promise<void> {
    const redis = this.stack.redis;
    record.target = `redis-server (pid ${redis.pid}, port ${redis.port})`;
    await redis.kill();
    await new Promise((r) => setTimeout(r, REDIS_DOWN_MS));
    await redis.start();
    record.backAfterS = round1(this.nowS() - record.doneAtS);
    record.detail = `down ${record.backAfterS} s, back ${redis.persistent ? 'with its data (AOF)' : 'empty'} (pid ${redis.pid})`;
  }
}
