import { GATEWAY_ENV } from '../../../services/gateway/src/config.js';
import { WORKER_ENV } from '../../../services/session-worker/src/config.js';
import { STATUS_ENV } from '../../../services/status-api/src/config.js';

export interface ServiceFacts {
  /** Package folder under services/ and Dockerfile target. */
  name: 'gateway' | 'session-worker' | 'status-api';
  /** Every environment variable the service reads (its config schema). */
  env: ReadonlySet<string>;
  /** Variable naming the port that serves /metrics, /healthz and /readyz, and its default. */
  adminPortVar: string;
  adminPort: number;
  /** Variable naming the interface the admin port binds to, and its default (the schema's). */
  adminHostVar: string;
  adminHost: string;
  /** Variable naming the client-facing port, when the service has one apart from the admin port. */
  publicPortVar?: string;
  publicPort?: number;
}

function envNames(schema: Record<string, unknown>): ReadonlySet<string> {
  return new Set(Object.keys(schema));
}

export const SERVICES: Record<ServiceFacts['name'], ServiceFacts> = {
  gateway: {
    name: 'gateway',
    env: envNames(GATEWAY_ENV),
    adminPortVar: 'RTV_GATEWAY_ADMIN_PORT',
    adminPort: GATEWAY_ENV.RTV_GATEWAY_ADMIN_PORT.default,
    adminHostVar: 'RTV_ADMIN_HOST',
    adminHost: GATEWAY_ENV.RTV_ADMIN_HOST.default,
    publicPortVar: 'RTV_GATEWAY_PORT',
    publicPort: GATEWAY_ENV.RTV_GATEWAY_PORT.default,
  },
  'session-worker': {
    name: 'session-worker',
    env: envNames(WORKER_ENV),
    adminPortVar: 'RTV_WORKER_ADMIN_PORT',
    adminPort: WORKER_ENV.RTV_WORKER_ADMIN_PORT.default,
    adminHostVar: 'RTV_ADMIN_HOST',
    adminHost: WORKER_ENV.RTV_ADMIN_HOST.default,
  },
  'status-api': {
    name: 'status-api',
    env: envNames(STATUS_ENV),
    adminPortVar: 'RTV_STATUS_PORT',
    adminPort: STATUS_ENV.RTV_STATUS_PORT.default,
    // The status API serves /metrics and its probes on its public port.
    adminHostVar: 'RTV_STATUS_HOST',
    adminHost: STATUS_ENV.RTV_STATUS_HOST.default,
  },
};
