// The worker's provider configuration as validated at boot: defaults, and the Azure OpenAI combinations that
// are refused with a message naming the variable.
import { ConfigError } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';
import { azureRealtimeUrl, resolveShape } from '../src/upstream/resolve-provider.js';

const AZURE = {
  RTV_PROVIDER: 'azure',
  AZURE_OPENAI_ENDPOINT: 'https://voice-eu.openai.azure.com',
  AZURE_OPENAI_DEPLOYMENT: 'gpt-realtime',
  AZURE_OPENAI_API_KEY: 'azure-secret-key',
};

/** The problems `loadWorkerConfig` reports for `env` (fails the test when it accepts it). */
function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadWorkerConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('worker provider configuration', () => {
  it('defaults to OpenAI, gpt-realtime and the GA shape; auto is a legacy value meaning ga', () => {
    const config = loadWorkerConfig({});
    expect(config.RTV_PROVIDER).toBe('openai');
    expect(config.OPENAI_REALTIME_MODEL).toBe('gpt-realtime');
    expect(config.RTV_PROVIDER_SHAPE).toBe('ga');
    expect(resolveShape('auto')).toBe('ga');
    expect(resolveShape('ga')).toBe('ga');
    expect(resolveShape('beta')).toBe('beta');
    expect(problems({ RTV_PROVIDER_SHAPE: 'preview' })[0]).toMatch(
      /^RTV_PROVIDER_SHAPE="preview": expected one of/,
    );
  });

  it('accepts Azure with an api-key, or with an Entra ID token file', () => {
    expect(loadWorkerConfig(AZURE)).toMatchObject({
      RTV_PROVIDER: 'azure',
      AZURE_OPENAI_DEPLOYMENT: 'gpt-realtime',
    });
    const { AZURE_OPENAI_API_KEY: _, ...withoutKey } = AZURE;
    // The token file need not exist at boot (a sidecar may write it later): each connect reads it.
    expect(
      loadWorkerConfig({ ...withoutKey, AZURE_OPENAI_AD_TOKEN_FILE: '/var/run/secrets/azure/token' }),
    ).toMatchObject({ AZURE_OPENAI_AD_TOKEN_FILE: '/var/run/secrets/azure/token' });
    // Loopback over plain http is for local stand-ins.
    expect(loadWorkerConfig({ ...AZURE, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:8089' }).RTV_PROVIDER).toBe(
      'azure',
    );
  });

  it.each([
    [
      'no endpoint',
      { AZURE_OPENAI_ENDPOINT: '' },
      /^AZURE_OPENAI_ENDPOINT is required with RTV_PROVIDER=azure/,
    ],
    ['no deployment', { AZURE_OPENAI_DEPLOYMENT: undefined }, /^AZURE_OPENAI_DEPLOYMENT is required/],
    [
      'no credential',
      { AZURE_OPENAI_API_KEY: undefined },
      /^AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN_FILE is required with RTV_PROVIDER=azure/,
    ],
    [
      'both credentials',
      { AZURE_OPENAI_AD_TOKEN_FILE: '/tmp/token' },
      /^AZURE_OPENAI_API_KEY and AZURE_OPENAI_AD_TOKEN_FILE are both set: set exactly one/,
    ],
    [
      'an endpoint that is not http(s)',
      { AZURE_OPENAI_ENDPOINT: 'wss://voice-eu.openai.azure.com' },
      /^AZURE_OPENAI_ENDPOINT="wss:\/\/voice-eu.openai.azure.com": scheme must be one of https, http/,
    ],
    [
      'plain http to a remote host',
      { AZURE_OPENAI_ENDPOINT: 'http://voice-eu.openai.azure.com' },
      /^AZURE_OPENAI_ENDPOINT=.*: http:\/\/ is accepted for loopback test servers only/,
    ],
    [
      'the full realtime URL instead of the resource endpoint',
      { AZURE_OPENAI_ENDPOINT: 'https://voice-eu.openai.azure.com/openai/v1/realtime?model=x' },
      /^AZURE_OPENAI_ENDPOINT=.*: give the resource endpoint only/,
    ],
    [
      'a malformed deployment name',
      { AZURE_OPENAI_DEPLOYMENT: 'a b' },
      /^AZURE_OPENAI_DEPLOYMENT="a b": must match/,
    ],
    [
      'the beta shape',
      { RTV_PROVIDER_SHAPE: 'beta' },
      /^RTV_PROVIDER_SHAPE=beta: the Azure OpenAI GA endpoint speaks the GA shape only/,
    ],
  ] as Array<[string, Record<string, string | undefined>, RegExp]>)(
    'refuses Azure with %s, naming the variable',
    (_name, change, expected) => {
      const found = problems({ ...AZURE, ...change });
      expect(
        found.some((p) => expected.test(p)),
        found.join('\n'),
      ).toBe(true);
    },
  );

  it('refuses Azure variables without RTV_PROVIDER=azure (else the worker would quietly run the local engine)', () => {
    const { RTV_PROVIDER: _, ...azureVars } = AZURE;
    const [problem] = problems(azureVars);
    expect(problem).toMatch(
      /^AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_KEY set but RTV_PROVIDER is openai: set RTV_PROVIDER=azure/,
    );
  });

  it('reports every problem at once and never prints a key', () => {
    const found = problems({
      ...AZURE,
      AZURE_OPENAI_AD_TOKEN_FILE: '/tmp/token',
      AZURE_OPENAI_DEPLOYMENT: 'bad name',
      RTV_WORKER_CAPACITY: '0',
    });
    expect(found.map((p) => p.split(/[=: ]/)[0])).toEqual([
      'RTV_WORKER_CAPACITY',
      'AZURE_OPENAI_DEPLOYMENT',
      'AZURE_OPENAI_API_KEY',
    ]);
    expect(found.join('\n')).not.toContain('azure-secret-key');
  });

  it('refuses OPENAI_REALTIME_URL over plain ws:// with OPENAI_API_KEY set, unless the host is loopback', () => {
    const KEY = 'sk-secret-key-never-printed';
    for (const url of [
      'ws://api.openai.com/v1/realtime',
      'ws://10.0.0.7:8080/v1/realtime',
      'ws://[::2]/v1/realtime',
    ]) {
      const found = problems({ OPENAI_API_KEY: KEY, OPENAI_REALTIME_URL: url });
      expect(found, url).toHaveLength(1);
      expect(found[0]).toMatch(
        /^OPENAI_REALTIME_URL=".*": ws:\/\/ would send OPENAI_API_KEY in clear; use wss:\/\//,
      );
      expect(found[0]).not.toContain(KEY);
    }
    // Credentials in the URL are not echoed either.
    expect(
      problems({ OPENAI_API_KEY: KEY, OPENAI_REALTIME_URL: 'ws://u:hunter2@example.com/v1' })[0],
    ).not.toContain('hunter2');
    for (const url of [
      'wss://api.openai.com/v1/realtime',
      'ws://127.0.0.1:8089/v1/realtime',
      'ws://127.3.4.5/v1/realtime',
      'ws://localhost:8089/v1/realtime',
      'ws://[::1]:8089/v1/realtime',
    ]) {
      expect(
        loadWorkerConfig({ OPENAI_API_KEY: KEY, OPENAI_REALTIME_URL: url }).OPENAI_REALTIME_URL,
        url,
      ).toBe(url);
    }
    // Without a key nothing secret is sent (and the local engine is used).
    expect(loadWorkerConfig({ OPENAI_REALTIME_URL: 'ws://example.com/v1' }).OPENAI_REALTIME_URL).toBe(
      'ws://example.com/v1',
    );
  });

  it('builds the GA realtime URL from the resource endpoint', () => {
    expect(azureRealtimeUrl('https://voice-eu.openai.azure.com')).toBe(
      'wss://voice-eu.openai.azure.com/openai/v1/realtime',
    );
    expect(azureRealtimeUrl('https://voice-eu.openai.azure.com/')).toBe(
      'wss://voice-eu.openai.azure.com/openai/v1/realtime',
    );
    expect(azureRealtimeUrl('http://127.0.0.1:8089')).toBe('ws://127.0.0.1:8089/openai/v1/realtime');
    // An API gateway in front keeps its path prefix.
    expect(azureRealtimeUrl('https://apim.example.com/voice/')).toBe(
      'wss://apim.example.com/voice/openai/v1/realtime',
    );
  });
});
