import { describe, expect, it } from 'vitest';
import { type CompatPolicyConfig, parseCompatPolicy } from '../src/compat/index.js';

const FULL: CompatPolicyConfig = {
  classClaim: 'tier',
  classes: {
    default: {
      models: ['gpt-realtime', 'gpt-realtime-mini'],
      defaultModel: 'gpt-realtime-mini',
      pin: { 'audio.output.voice': 'marin', max_output_tokens: 1024 },
      forbid: ['tracing', 'audio.input.transcription'],
      tools: { allow: ['get_weather'] },
      instructionsPrefix: 'Never reveal secrets.',
      maxSessionS: 600,
      budget: { tokens: 200_000, windowS: 3600 },
      rate: { eventsPerS: 100, burst: 200 },
    },
    gold: { models: ['*'], budget: null, pin: {}, tools: null, maxSessionS: 3600 },
  },
};

const policy = parseCompatPolicy(FULL);

describe('compat policy: classes', () => {
  it('picks the class named in the claims, and default for a missing or unknown one', () => {
    expect(policy.classClaim).toBe('tier');
    expect(policy.classFor({ class: 'gold' })).toBe('gold');
    expect(policy.classFor({ class: 'platinum' })).toBe('default');
    expect(policy.classFor({})).toBe('default');
    // Object prototype names are not classes.
    expect(policy.classFor({ class: 'constructor' })).toBe('default');
    expect(policy.classNames().sort()).toEqual(['default', 'gold']);
  });

  it('fills a class from default for the keys it leaves unset, and lets null switch an inherited limit off', () => {
    expect(policy.maxSessionS('gold')).toBe(3600);
    expect(policy.maxSessionS('default')).toBe(600);
    expect(policy.budget('default')).toEqual({ tokens: 200_000, windowS: 3600 });
    expect(policy.budget('gold')).toBeUndefined();
    // Not set on gold: inherited.
    expect(policy.rate('gold')).toEqual({ eventsPerS: 100, burst: 200 });
    const update = policy.applySessionUpdate('gold', { type: 'realtime', instructions: 'Hi' });
    expect(update).toEqual({
      ok: true,
      session: { type: 'realtime', instructions: 'Never reveal secrets.\n\nHi' },
    });
    // gold's empty pin replaces the default's pins, and its null tools allow any tool.
    const gold = policy.applySessionUpdate('gold', {
      type: 'realtime',
      audio: { output: { voice: 'cedar' } },
      tools: [{ type: 'mcp', server_label: 'x' }],
    });
    expect(gold.ok && gold.session.audio).toEqual({ output: { voice: 'cedar' } });
    // An unknown class name gets default's rules.
    expect(policy.budget('nope')).toEqual({ tokens: 200_000, windowS: 3600 });
  });

  it('hands out copies of the limits', () => {
    const budget = policy.budget('default')!;
    budget.tokens = 1;
    expect(policy.budget('default')?.tokens).toBe(200_000);
  });
});

describe('compat policy: models', () => {
  it('uses the default model when ?model= is absent or empty, and allows only listed models', () => {
    expect(policy.resolveModel('default', undefined)).toEqual({ ok: true, model: 'gpt-realtime-mini' });
    expect(policy.resolveModel('default', '')).toEqual({ ok: true, model: 'gpt-realtime-mini' });
    expect(policy.resolveModel('default', 'gpt-realtime')).toEqual({ ok: true, model: 'gpt-realtime' });
    const refused = policy.resolveModel('default', 'gpt-4o-realtime-preview');
    expect(refused).toMatchObject({ ok: false, code: 'model_not_allowed' });
    expect(!refused.ok && refused.message).toContain("'gpt-4o-realtime-preview'");
  });

  it('allows any model with "*", keeping the inherited default model', () => {
    expect(policy.resolveModel('gold', 'anything-realtime')).toEqual({
      ok: true,
      model: 'anything-realtime',
    });
    expect(policy.resolveModel('gold', undefined)).toEqual({ ok: true, model: 'gpt-realtime-mini' });
  });

  it('picks gpt-realtime, else the first listed model, when no default model is set', () => {
    const p = parseCompatPolicy({
      classes: { default: { models: ['b', 'a'] }, x: { models: ['a', 'gpt-realtime'] } },
    });
    expect(p.resolveModel('default', undefined)).toEqual({ ok: true, model: 'b' });
    expect(p.resolveModel('x', undefined)).toEqual({ ok: true, model: 'gpt-realtime' });
  });

  it('refuses a session.update that names a model outside the list', () => {
    expect(policy.applySessionUpdate('default', { type: 'realtime', model: 'other' })).toMatchObject({
      ok: false,
      code: 'setting_forbidden',
      param: 'session.model',
    });
    expect(policy.applySessionUpdate('default', { type: 'realtime', model: 'gpt-realtime' }).ok).toBe(true);
  });
});

describe('compat policy: session.update', () => {
  it('refuses forbidden paths, naming them, whatever the value (null included)', () => {
    for (const session of [
      { type: 'realtime', tracing: 'auto' },
      { type: 'realtime', tracing: null },
      { type: 'realtime', audio: { input: { transcription: { model: 'whisper-1' } } } },
    ]) {
      const result = policy.applySessionUpdate('default', session);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.code).toBe('setting_forbidden');
      expect(!result.ok && result.param).toMatch(/^session\.(tracing|audio\.input\.transcription)$/);
      expect(!result.ok && result.message).toContain(!result.ok ? result.param : '');
    }
    // A sibling of a forbidden path is fine.
    expect(
      policy.applySessionUpdate('default', { type: 'realtime', audio: { input: { noise_reduction: null } } })
        .ok,
    ).toBe(true);
  });

  it('overwrites pinned paths the client sets, in a new object, leaving the argument alone', () => {
    const session = {
      type: 'realtime',
      audio: { output: { voice: 'cedar', speed: 1.2 } },
      max_output_tokens: 'inf',
    };
    const result = policy.applySessionUpdate('default', session);
    expect(result).toEqual({
      ok: true,
      session: {
        type: 'realtime',
        audio: { output: { voice: 'marin', speed: 1.2 } },
        max_output_tokens: 1024,
      },
    });
    expect(session.audio.output.voice).toBe('cedar');
    expect(session.max_output_tokens).toBe('inf');
  });

  it('does not re-send a pin the update leaves alone (the provider refuses a voice once audio was produced)', () => {
    const result = policy.applySessionUpdate('default', {
      type: 'realtime',
      audio: { input: { turn_detection: null }, output: { speed: 1.1 } },
    });
    expect(result).toEqual({
      ok: true,
      session: { type: 'realtime', audio: { input: { turn_detection: null }, output: { speed: 1.1 } } },
    });
  });

  it('sets a pin under an ancestor the client replaces with a non-object', () => {
    const result = policy.applySessionUpdate('default', { type: 'realtime', audio: { output: null } });
    expect(result.ok && result.session.audio).toEqual({ output: { voice: 'marin' } });
  });

  it('checks tools against the allowlist, naming the tool', () => {
    const weather = {
      type: 'function',
      name: 'get_weather',
      description: 'w',
      parameters: { type: 'object' },
    };
    expect(policy.applySessionUpdate('default', { type: 'realtime', tools: [weather] })).toEqual({
      ok: true,
      session: { type: 'realtime', tools: [weather] },
    });
    expect(
      policy.applySessionUpdate('default', {
        type: 'realtime',
        tools: [weather, { type: 'function', name: 'rm_rf' }],
      }),
    ).toMatchObject({ ok: false, code: 'setting_forbidden', param: 'session.tools[1].name' });
    expect(
      policy.applySessionUpdate('default', { type: 'realtime', tools: [{ type: 'mcp', server_label: 'x' }] }),
    ).toMatchObject({ ok: false, param: 'session.tools[0].type' });
    expect(
      policy.applySessionUpdate('default', {
        type: 'realtime',
        tool_choice: { type: 'function', name: 'rm_rf' },
      }),
    ).toMatchObject({ ok: false, param: 'session.tool_choice.name' });
    expect(
      policy.applySessionUpdate('default', { type: 'realtime', tools: [], tool_choice: 'auto' }).ok,
    ).toBe(true);
  });

  it('allows any tool without an allowlist', () => {
    const open = parseCompatPolicy({});
    const tools = [
      { type: 'function', name: 'anything' },
      { type: 'mcp', server_label: 'x' },
    ];
    expect(open.applySessionUpdate('default', { type: 'realtime', tools })).toEqual({
      ok: true,
      session: { type: 'realtime', tools },
    });
  });

  it('prefixes the instructions the client sends; an empty or null value leaves the prefix alone', () => {
    const apply = (instructions: unknown) =>
      policy.applySessionUpdate('default', { type: 'realtime', instructions });
    expect(apply('Be brief.')).toEqual({
      ok: true,
      session: { type: 'realtime', instructions: 'Never reveal secrets.\n\nBe brief.' },
    });
    expect(apply('')).toEqual({
      ok: true,
      session: { type: 'realtime', instructions: 'Never reveal secrets.' },
    });
    expect(apply(null)).toEqual({
      ok: true,
      session: { type: 'realtime', instructions: 'Never reveal secrets.' },
    });
    // An update without instructions keeps the session's (already prefixed) ones: nothing is added.
    expect(policy.applySessionUpdate('default', { type: 'realtime' })).toEqual({
      ok: true,
      session: { type: 'realtime' },
    });
  });

  it('prefixes pinned instructions too', () => {
    const p = parseCompatPolicy({
      classes: { default: { pin: { instructions: 'Fixed.' }, instructionsPrefix: 'P' } },
    });
    expect(p.applySessionUpdate('default', { type: 'realtime', instructions: 'mine' })).toEqual({
      ok: true,
      session: { type: 'realtime', instructions: 'P\n\nFixed.' },
    });
    expect(p.initialSession('default', 'gpt-realtime')).toEqual({
      type: 'realtime',
      model: 'gpt-realtime',
      instructions: 'P\n\nFixed.',
    });
  });
});

describe('compat policy: the first session.update', () => {
  it('carries every pin and the prefix, nested by path', () => {
    expect(policy.initialSession('default', 'gpt-realtime')).toEqual({
      type: 'realtime',
      model: 'gpt-realtime',
      audio: { output: { voice: 'marin' } },
      max_output_tokens: 1024,
      instructions: 'Never reveal secrets.',
    });
  });

  it('is not needed when nothing is pinned and there is no prefix', () => {
    expect(parseCompatPolicy(undefined).initialSession('default', 'gpt-realtime')).toBeUndefined();
    expect(policy.initialSession('gold', 'x')).toEqual({
      type: 'realtime',
      model: 'x',
      instructions: 'Never reveal secrets.',
    });
  });

  it('gives a fresh object each time', () => {
    const first = policy.initialSession('default', 'gpt-realtime')!;
    (first.audio as { output: { voice: string } }).output.voice = 'echo';
    expect(policy.initialSession('default', 'gpt-realtime')?.audio).toEqual({ output: { voice: 'marin' } });
  });
});

describe('compat policy: response.create overrides', () => {
  it('leaves an absent override absent', () => {
    expect(policy.applyResponseCreate('default', undefined)).toEqual({ ok: true, response: undefined });
  });

  it('prefixes instructions, pins response fields the client sets and leaves the rest', () => {
    const response = {
      instructions: 'Answer in French.',
      audio: { output: { voice: 'ash' } },
      max_output_tokens: 50,
      conversation: 'none',
      metadata: { topic: 'x' },
    };
    expect(policy.applyResponseCreate('default', response)).toEqual({
      ok: true,
      response: {
        instructions: 'Never reveal secrets.\n\nAnswer in French.',
        audio: { output: { voice: 'marin' } },
        max_output_tokens: 1024,
        conversation: 'none',
        metadata: { topic: 'x' },
      },
    });
    expect(response.audio.output.voice).toBe('ash');
    expect(policy.applyResponseCreate('default', { conversation: 'auto' })).toEqual({
      ok: true,
      response: { conversation: 'auto' },
    });
  });

  it('does not add a pin that has no meaning in a response', () => {
    const p = parseCompatPolicy({ classes: { default: { pin: { 'audio.input.noise_reduction': null } } } });
    expect(p.applyResponseCreate('default', { audio: null })).toEqual({
      ok: true,
      response: { audio: null },
    });
    expect(p.applySessionUpdate('default', { type: 'realtime', audio: null })).toEqual({
      ok: true,
      session: { type: 'realtime', audio: { input: { noise_reduction: null } } },
    });
  });

  it('refuses forbidden paths and tools outside the allowlist, with response params', () => {
    const p = parseCompatPolicy({
      classes: { default: { forbid: ['tool_choice'], tools: { allow: ['a'] } } },
    });
    expect(p.applyResponseCreate('default', { tool_choice: 'none' })).toMatchObject({
      ok: false,
      code: 'setting_forbidden',
      param: 'response.tool_choice',
    });
    expect(p.applyResponseCreate('default', { tools: [{ type: 'function', name: 'b' }] })).toMatchObject({
      ok: false,
      param: 'response.tools[0].name',
    });
    expect(p.applyResponseCreate('default', { tools: [{ type: 'function', name: 'a' }] }).ok).toBe(true);
  });
});

describe('compat policy: the default policy', () => {
  it('allows any model with gpt-realtime by default, pins and forbids nothing, has no limits', () => {
    for (const p of [parseCompatPolicy(undefined), parseCompatPolicy(null), parseCompatPolicy({})]) {
      expect(p.classClaim).toBe('rtv_class');
      expect(p.resolveModel('default', undefined)).toEqual({ ok: true, model: 'gpt-realtime' });
      expect(p.resolveModel('default', 'x')).toEqual({ ok: true, model: 'x' });
      const session = {
        type: 'realtime',
        tracing: 'auto',
        instructions: 'hi',
        audio: { output: { voice: 'ash' } },
      };
      expect(p.applySessionUpdate('default', session)).toEqual({ ok: true, session });
      expect(p.budget('default')).toBeUndefined();
      expect(p.rate('default')).toBeUndefined();
      expect(p.maxSessionS('default')).toBeUndefined();
    }
  });
});

describe('compat policy: parse errors name the bad path', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [], /\(root\) must be an object/],
    ['unknown top-level key', { clases: {} }, /clases is not a policy setting/],
    ['empty class claim', { classClaim: '' }, /classClaim must be a non-empty string/],
    ['bad class name', { classes: { 'a b': {} } }, /class name "a b"/],
    [
      'unknown class key',
      { classes: { gold: { budgets: {} } } },
      /classes\.gold\.budgets is not a policy setting/,
    ],
    [
      'models not an array',
      { classes: { default: { models: 'x' } } },
      /classes\.default\.models must be an array/,
    ],
    ['empty models', { classes: { gold: { models: [] } } }, /classes\.gold\.models must list at least one/],
    ['bad model entry', { classes: { gold: { models: ['a', 3] } } }, /classes\.gold\.models\[1\]/],
    [
      'default model not allowed',
      { classes: { default: { models: ['a'], defaultModel: 'b' } } },
      /classes\.default\.defaultModel "b" is not in classes\.default\.models/,
    ],
    [
      'inherited default model not allowed',
      { classes: { default: { defaultModel: 'b' }, gold: { models: ['a'] } } },
      /classes\.default\.defaultModel "b" is not in classes\.gold\.models/,
    ],
    [
      'pin not an object',
      { classes: { default: { pin: ['x'] } } },
      /classes\.default\.pin must be an object/,
    ],
    [
      'bad pin path',
      { classes: { gold: { pin: { 'audio..voice': 1 } } } },
      /classes\.gold\.pin\["audio\.\.voice"\]/,
    ],
    [
      'unsafe pin path',
      { classes: { gold: { pin: { '__proto__.x': 1 } } } },
      /classes\.gold\.pin\["__proto__\.x"\]/,
    ],
    [
      'reserved pin',
      { classes: { gold: { pin: { model: 'x' } } } },
      /classes\.gold\.pin\["model"\] cannot pin/,
    ],
    [
      'overlapping pins',
      { classes: { gold: { pin: { audio: {}, 'audio.output.voice': 'marin' } } } },
      /classes\.gold\.pin\["audio\.output\.voice"\] overlaps the pin "audio"/,
    ],
    [
      'forbid not an array',
      { classes: { gold: { forbid: 'tracing' } } },
      /classes\.gold\.forbid must be an array/,
    ],
    ['forbid entry', { classes: { gold: { forbid: ['tracing', 4] } } }, /classes\.gold\.forbid\[1\]/],
    [
      'forbid type',
      { classes: { gold: { forbid: ['type'] } } },
      /classes\.gold\.forbid\[0\] cannot pin or forbid/,
    ],
    [
      'forbid a pinned path',
      { classes: { gold: { pin: { 'audio.output.voice': 'x' }, forbid: ['audio.output'] } } },
      /classes\.gold\.forbid\[0\] "audio\.output" overlaps the pin "audio\.output\.voice"/,
    ],
    [
      'tools shape',
      { classes: { gold: { tools: { allowed: [] } } } },
      /classes\.gold\.tools\.allowed is not/,
    ],
    ['tool name', { classes: { gold: { tools: { allow: [''] } } } }, /classes\.gold\.tools\.allow\[0\]/],
    [
      'prefix type',
      { classes: { gold: { instructionsPrefix: 5 } } },
      /classes\.gold\.instructionsPrefix must be a string/,
    ],
    [
      'max session',
      { classes: { gold: { maxSessionS: 0 } } },
      /classes\.gold\.maxSessionS must be a positive integer/,
    ],
    [
      'budget tokens',
      { classes: { gold: { budget: { tokens: 1.5, windowS: 60 } } } },
      /classes\.gold\.budget\.tokens/,
    ],
    ['budget window', { classes: { gold: { budget: { tokens: 10 } } } }, /classes\.gold\.budget\.windowS/],
    [
      'budget key',
      { classes: { gold: { budget: { tokens: 10, windowS: 1, x: 1 } } } },
      /classes\.gold\.budget\.x/,
    ],
    [
      'rate',
      { classes: { gold: { rate: { eventsPerS: -1, burst: 2 } } } },
      /classes\.gold\.rate\.eventsPerS/,
    ],
    [
      'rate burst',
      { classes: { gold: { rate: { eventsPerS: 1, burst: 0.5 } } } },
      /classes\.gold\.rate\.burst/,
    ],
  ];
  for (const [what, json, message] of cases) {
    it(what, () => {
      expect(() => parseCompatPolicy(json)).toThrow(message);
      expect(() => parseCompatPolicy(json)).toThrow(/^compat policy: /);
    });
  }

  it('reports a broken default setting once, at its own path, for every class that inherits it', () => {
    expect(() =>
      parseCompatPolicy({ classes: { default: { budget: { tokens: 0, windowS: 1 } }, gold: {} } }),
    ).toThrow(/classes\.default\.budget\.tokens/);
  });
});
