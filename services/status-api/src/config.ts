import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const STATUS_ENV = {
  ...COMMON_ENV,
  RTV_STATUS_HOST: { type: 'string', default: '0.0.0.0', doc: 'Interface the status API binds to' },
  RTV_STATUS_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 8090,
    doc: 'Status API port: seed status/health, /metrics, /healthz, /readyz',
  },
} as const satisfies EnvSchema;

export type StatusConfig = ConfigOf<typeof STATUS_ENV>;

export function loadStatusConfig(env: NodeJS.ProcessEnv = process.env): StatusConfig {
  return loadConfig('status-api', STATUS_ENV, env);
}
