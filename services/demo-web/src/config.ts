import { COMMON_ENV, type ConfigOf, type EnvSchema, loadConfig } from '@rtv/service-kit';

export const DEMO_ENV = {
  RTV_LOG_LEVEL: COMMON_ENV.RTV_LOG_LEVEL,
  RTV_DEMO_HOST: { type: 'string', default: '0.0.0.0', doc: 'Interface the demo page server binds to' },
  RTV_DEMO_PORT: {
    type: 'int',
    min: 0,
    max: 65535,
    default: 8080,
    doc: 'Demo page port: the page, /config.js, /healthz, /readyz',
  },
  RTV_DEMO_GATEWAY_URL: {
    type: 'url',
    protocols: ['ws', 'wss'],
    default: 'ws://localhost:8000/api/v1/streaming/realtime',
    doc: 'Gateway realtime endpoint the page connects to (without the user id); ?gateway= on the page overrides it',
  },
} as const satisfies EnvSchema;

export type DemoConfig = ConfigOf<typeof DEMO_ENV>;

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  return loadConfig('demo-web', DEMO_ENV, env);
}
