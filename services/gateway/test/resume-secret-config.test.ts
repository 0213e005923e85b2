import { ConfigError } from '@rtv/service-kit';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';

// RTV_RESUME_SECRET signs resume tokens: a short one could be brute-forced offline from a single token.

describe('RTV_RESUME_SECRET', () => {
  it('refuses a secret shorter than 32 characters, naming the variable and never the value', () => {
    const short = 'resume-secret-31-characters-xyz';
    expect(short).toHaveLength(31);
    let error: unknown;
    try {
      loadGatewayConfig({ RTV_RESUME_SECRET: short });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('RTV_RESUME_SECRET=<redacted>: must be at least 32 characters');
    expect(message).not.toContain(short);
    expect(message).not.toContain('resume-secret');
  });

  it('accepts 32 characters and more, and leaves it unset by default', () => {
    const secret = 'a'.repeat(32);
    expect(loadGatewayConfig({ RTV_RESUME_SECRET: secret }).RTV_RESUME_SECRET).toBe(secret);
    expect(loadGatewayConfig({ RTV_RESUME_SECRET: 'b'.repeat(64) }).RTV_RESUME_SECRET).toHaveLength(64);
    expect(loadGatewayConfig({}).RTV_RESUME_SECRET).toBeUndefined();
  });
});
