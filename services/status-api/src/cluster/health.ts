import type { ClusterSnapshot, MemberBase, WorkerView } from './read-cluster.js';

/** The parts of the cluster that must work for it to take a new session, in the order they are checked. */
export const HEALTH_COMPONENTS = ['redis', 'gateway', 'session_worker', 'capacity', 'provider'] as const;
export type HealthComponent = (typeof HEALTH_COMPONENTS)[number];

export interface ComponentHealth {
  /** `unknown` when the component cannot be judged (Redis is down, or nothing reports on it). */
  status: 'ok' | 'failing' | 'unknown';
  /** One line for operators; never contains user data. */
  message: string;
}

export interface HealthReport {
  healthy: boolean;
  /** Failing components, in check order: the first one is usually the cause of the rest. */
  failing: HealthComponent[];
  components: Record<HealthComponent, ComponentHealth>;
  /**
   * When the provider component is failing: the failure kinds the ready workers report, sorted
   * (`model_unavailable`, `auth_failed`, `shape_unsupported`, `unavailable`). Absent otherwise.
   */
  provider_errors?: string[];
}

/**
 * Whether the cluster can take a new session right now, and which component stops it if not: Redis must
 * answer, at least one gateway and one worker must be live and not draining, a worker must have a free slot,
 * and the provider must be reachable where workers report it (`provider_ok` in their heartbeat; when it is
 * not, `provider_errors` names why, from their `provider_error`).
 * `snapshot` is undefined when Redis could not be read.
 */
export function evaluateHealth(snapshot: ClusterSnapshot | undefined): HealthReport {
  if (!snapshot) {
    const unknown: ComponentHealth = { status: 'unknown', message: 'Redis is unreachable' };
    return report({
      redis: { status: 'failing', message: 'Redis is unreachable: the cluster state cannot be read' },
      gateway: unknown,
      session_worker: unknown,
      capacity: unknown,
      provider: unknown,
    });
  }
  const readyWorkers = snapshot.workers.filter((w) => !w.draining);
  let capacity: ComponentHealth;
  if (readyWorkers.length === 0) capacity = { status: 'unknown', message: 'no session worker is ready' };
  else if (snapshot.free_capacity > 0) {
    capacity = { status: 'ok', message: `${snapshot.free_capacity} free session slot(s)` };
  } else {
    capacity = { status: 'failing', message: `all ${snapshot.capacity} session slots are in use` };
  }
  const { provider, errors } = providerHealth(readyWorkers);
  const health = report({
    redis: { status: 'ok', message: 'Redis answers' },
    gateway: members(snapshot.gateways, 'gateway'),
    session_worker: members(snapshot.workers, 'session worker'),
    capacity,
    provider,
  });
  return errors.length > 0 ? { ...health, provider_errors: errors } : health;
}

/**
 * The provider is ok when one ready worker that reports on it reached it; failing when none did, naming the
 * failure kinds the workers report (a retired model, a refused key, … from `provider_error`).
 */
function providerHealth(readyWorkers: WorkerView[]): { provider: ComponentHealth; errors: string[] } {
  const reporting = readyWorkers.filter((w) => w.provider_ok !== null);
  if (reporting.length === 0)
    return {
      provider: { status: 'unknown', message: 'no ready worker reports provider reachability' },
      errors: [],
    };
  if (reporting.some((w) => w.provider_ok))
    return { provider: { status: 'ok', message: 'the speech provider is reachable' }, errors: [] };
  const errors = [...new Set(reporting.flatMap((w) => (w.provider_error ? [w.provider_error] : [])))].sort();
  const message = `no ready worker can reach the speech provider${errors.length > 0 ? ` (${errors.join(', ')})` : ''}`;
  return { provider: { status: 'failing', message }, errors };
}

function members(list: MemberBase[], noun: string): ComponentHealth {
  const ready = list.filter((m) => !m.draining).length;
  if (list.length === 0) return { status: 'failing', message: `no live ${noun}` };
  if (ready === 0) return { status: 'failing', message: `every live ${noun} is draining` };
  return { status: 'ok', message: `${ready} ${noun}(s) ready` };
}

function report(components: Record<HealthComponent, ComponentHealth>): HealthReport {
  const failing = HEALTH_COMPONENTS.filter((c) => components[c].status === 'failing');
  return { healthy: failing.length === 0, failing, components };
}
