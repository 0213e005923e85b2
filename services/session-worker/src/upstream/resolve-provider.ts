import { access, constants } from 'node:fs/promises';
import { type LocalEngine, startLocalEngine } from '@rtv/local-engine';
import type { Logger } from '@rtv/service-kit';
import type { WorkerConfig } from '../config.js';
import type { ProviderAuth, ProviderShape } from './provider-connection.js';

/** Azure OpenAI's GA realtime path, appended to the resource endpoint (no `api-version`). */
export const AZURE_REALTIME_PATH = '/openai/v1/realtime';

/** The speech provider this worker talks to: OpenAI Realtime, Azure OpenAI, or the in-process local engine. */
export interface ResolvedProvider {
  /** Realtime WebSocket endpoint (the model goes in the query). */
  url: string;
  /** The model id, or the Azure deployment name. */
  model: string;
  /** OpenAI key (a bearer); undefined with Azure and with the local engine. */
  apiKey: string | undefined;
  /** Azure OpenAI's credential (`api-key` header, or an Entra ID token file); undefined otherwise. */
  auth: ProviderAuth | undefined;
  shape: ProviderShape;
  /** The in-process local engine, when no provider key is configured; `close()` it on stop. */
  engine: LocalEngine | undefined;
  /** Published in the heartbeat. */
  kind: 'local-engine' | 'openai' | 'azure';
}

/**
 * Chooses the provider from the config: Azure OpenAI when `RTV_PROVIDER=azure`; otherwise OpenAI Realtime when
 * `OPENAI_API_KEY` is set, else a local engine started here (in `RTV_ENGINE_MODE`, serving the configured shape).
 * The combinations were validated by `loadWorkerConfig`.
 */
export async function resolveProvider(config: WorkerConfig, log: Logger): Promise<ResolvedProvider> {
  const shape = resolveShape(config.RTV_PROVIDER_SHAPE as 'ga' | 'beta' | 'auto');
  if (config.RTV_PROVIDER === 'azure') return resolveAzure(config, shape, log);
  let engine: LocalEngine | undefined;
  let url = config.OPENAI_REALTIME_URL;
  if (!config.OPENAI_API_KEY) {
    // The engine refuses the retired beta shape like the provider does, unless the worker is set to speak it.
    engine = await startLocalEngine({
      mode: config.RTV_ENGINE_MODE as 'speech' | 'echo',
      allowBetaShape: shape === 'beta',
      // The provider takes a few hundred ms to open a session; a benchmark may make the engine take as long.
      handshakeDelayMs: config.RTV_LOCAL_ENGINE_HANDSHAKE_MS,
    });
    url = engine.url;
    log.info(
      {
        url: engine.url,
        mode: config.RTV_ENGINE_MODE,
        handshakeDelayMs: config.RTV_LOCAL_ENGINE_HANDSHAKE_MS,
      },
      'OPENAI_API_KEY is not set: using the local engine',
    );
  }
  const model = config.OPENAI_REALTIME_MODEL;
  log.info({ model, shape, provider: engine ? 'local-engine' : new URL(url).host }, 'provider configured');
  return {
    url,
    model,
    apiKey: config.OPENAI_API_KEY,
    auth: undefined,
    shape,
    engine,
    kind: engine ? 'local-engine' : 'openai',
  };
}

/** The wire shape: `beta` only when asked for; `ga` otherwise (`auto` is a legacy value that means `ga`). */
export function resolveShape(setting: 'ga' | 'beta' | 'auto'): ProviderShape {
  return setting === 'beta' ? 'beta' : 'ga';
}

/**
 * `https://<resource>.openai.azure.com` → `wss://<resource>.openai.azure.com/openai/v1/realtime` (`http://` →
 * `ws://`, for loopback test servers). A path on the endpoint (an API gateway in front) is kept as a prefix.
 */
export function azureRealtimeUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${AZURE_REALTIME_PATH}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

async function resolveAzure(
  config: WorkerConfig,
  shape: ProviderShape,
  log: Logger,
): Promise<ResolvedProvider> {
  const url = azureRealtimeUrl(config.AZURE_OPENAI_ENDPOINT ?? '');
  const tokenFile = config.AZURE_OPENAI_AD_TOKEN_FILE;
  const auth: ProviderAuth = tokenFile
    ? { type: 'bearer-file', path: tokenFile }
    : { type: 'api-key', key: config.AZURE_OPENAI_API_KEY ?? '' };
  if (tokenFile) {
    // Not fatal at boot: a sidecar may write the token after the worker starts. Each connect reads it again.
    const readable = await access(tokenFile, constants.R_OK).then(
      () => true,
      () => false,
    );
    if (!readable)
      log.warn(
        { file: tokenFile },
        'AZURE_OPENAI_AD_TOKEN_FILE is not readable yet: connects fail until it is',
      );
  }
  log.info(
    {
      provider: 'azure',
      host: new URL(url).host,
      deployment: config.AZURE_OPENAI_DEPLOYMENT,
      shape,
      auth: tokenFile ? 'entra-token-file' : 'api-key',
    },
    'provider configured',
  );
  return {
    url,
    model: config.AZURE_OPENAI_DEPLOYMENT ?? '',
    apiKey: undefined,
    auth,
    shape,
    engine: undefined,
    kind: 'azure',
  };
}
