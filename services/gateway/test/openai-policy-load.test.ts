import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOpenAiPolicy } from '../src/openai/openai-route.js';

describe('loadOpenAiPolicy', () => {
  it('reads RTV_OPENAI_POLICY, else the file RTV_OPENAI_POLICY_FILE names, else the default', () => {
    const policy = JSON.stringify({ classes: { default: { models: ['gpt-realtime-mini'] } } });
    expect(loadOpenAiPolicy({ RTV_OPENAI_POLICY: policy }).resolveModel('default', undefined)).toEqual({
      ok: true,
      model: 'gpt-realtime-mini',
    });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rtv-policy-')), 'policy.json');
    writeFileSync(file, policy);
    expect(
      loadOpenAiPolicy({ RTV_OPENAI_POLICY_FILE: file }).resolveModel('default', 'gpt-realtime').ok,
    ).toBe(false);
    expect(loadOpenAiPolicy({}).resolveModel('default', 'any-model')).toEqual({
      ok: true,
      model: 'any-model',
    });
  });

  it('stops the start with the source and the path of a bad value', () => {
    expect(() =>
      loadOpenAiPolicy({ RTV_OPENAI_POLICY: '{"classes":{"default":{"models":"gpt-realtime"}}}' }),
    ).toThrow(/^RTV_OPENAI_POLICY: .*models/);
    expect(() => loadOpenAiPolicy({ RTV_OPENAI_POLICY: '{not json' })).toThrow(/^RTV_OPENAI_POLICY: /);
    expect(() => loadOpenAiPolicy({ RTV_OPENAI_POLICY_FILE: '/nonexistent/policy.json' })).toThrow(/ENOENT/);
  });
});
