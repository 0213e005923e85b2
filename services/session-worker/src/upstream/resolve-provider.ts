import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import type { Logger } from '@rtv/service-kit';
import type { WorkerConfig } from '../config.js';
import type { ProviderShape } from './provider-connection.js';

/** The speech provider this worker talks to: OpenAI Realtime, or the in-process local engine. */
export interface ResolvedProvider {
  /** Realtime WebSocket endpoint. */
  url: string;
  model: string;
  apiKey: string | undefined;
  shape: ProviderShape;
  /** The in-process local engine, when no provider key is configured; `close()` it on stop. */
  engine: LocalEngine | undefined;
  /** Published in the heartbeat. */
  kind: 'local-engine' | 'openai';
}

/**
 * Chooses the provider from the config: OpenAI Realtime when `OPENAI_API_KEY` is set, otherwise a local engine
 * started here (in `RTV_ENGINE_MODE`), and the wire shape for the model and endpoint.
 */
export async function resolveProvider(config: WorkerConfig, log: Logger): Promise<ResolvedProvider> {
  let engine: LocalEngine | undefined;
  let url = config.OPENAI_REALTIME_URL;
  if (!config.OPENAI_API_KEY) {
    engine = await startLocalEngine({ mode: config.RTV_ENGINE_MODE as 'speech' | 'echo' });
    url = engine.url;
    log.info(
      { url: engine.url, mode: config.RTV_ENGINE_MODE },
      'OPENAI_API_KEY is not set: using the local engine',
    );
  }
  const model = config.OPENAI_REALTIME_MODEL;
  const shape = resolveShape(config.RTV_PROVIDER_SHAPE as 'auto' | 'ga' | 'beta', model, url);
  log.info({ model, shape, provider: engine ? 'local-engine' : new URL(url).host }, 'provider configured');
  return {
    url,
    model,
    apiKey: config.OPENAI_API_KEY,
    shape,
    engine,
    kind: engine ? 'local-engine' : 'openai',
  };
}

/** Chooses the wire shape: explicit config wins; `auto` uses beta only for preview models off OpenAI's host. */
export function resolveShape(setting: 'auto' | 'ga' | 'beta', model: string, url: string): ProviderShape {
  if (setting !== 'auto') return setting;
  const preview = /-realtime-preview/.test(model);
  // OpenAI retired the beta shape (it answers beta_api_shape_disabled); preview ids still work there in GA
  // shape. Other endpoints (the local engine, proxies, older deployments) get beta for preview models.
  const openaiHost = new URL(url).hostname.endsWith('api.openai.com');
  return preview && !openaiHost ? 'beta' : 'ga';
}
