import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_URL, parseClientArgs, resolveUrl, UsageError } from '../src/index.js';

describe('parseClientArgs', () => {
  it('keeps text and wav inputs in command-line order, with defaults', () => {
    expect(parseClientArgs(['--wav', 'a.wav', '--text', 'hi', '--wav', 'b.wav'])).toEqual({
      inputs: [
        { kind: 'wav', path: 'a.wav' },
        { kind: 'text', text: 'hi' },
        { kind: 'wav', path: 'b.wav' },
      ],
      url: `${DEFAULT_BASE_URL}/cli_user`,
      token: undefined,
      requireReply: false,
      voice: undefined,
      language: undefined,
      instructions: undefined,
      fast: false,
      out: undefined,
      timeoutMs: 30_000,
      json: false,
    });
  });

  it('reads every option', () => {
    const o = parseClientArgs([
      '--text=x',
      '--user',
      'ann',
      '--voice',
      'alloy',
      '--language',
      'de',
      '--instructions',
      'Be brief.',
      '--timeout',
      '2.5',
      '--fast',
      '--json',
      '--out',
      'r.wav',
      '--tools',
      't.json',
    ]);
    expect(o).toMatchObject({
      url: `${DEFAULT_BASE_URL}/ann`,
      voice: 'alloy',
      language: 'de',
      instructions: 'Be brief.',
      timeoutMs: 2500,
      fast: true,
      json: true,
      out: 'r.wav',
      toolsFile: 't.json',
    });
  });

  it('returns help for -h / --help', () => {
    expect(parseClientArgs(['-h'])).toBe('help');
    expect(parseClientArgs(['--text', 'x', '--help'])).toBe('help');
  });

  it.each([
    [[], /nothing to send/],
    [['--text', '  '], /--text must not be empty/],
    [['--text', 'x', '--timeout', 'soon'], /--timeout must be a positive number/],
    [['--text', 'x', '--timeout', '0'], /--timeout must be a positive number/],
    [['--text', 'x', '--url', 'http://h/'], /--url must start with ws:\/\//],
    [['--text', 'x', '--url', 'ws://h/x', '--user', 'u'], /--user has no effect with --url/],
    [['--text', 'x', '--colour'], /Unknown option '--colour'/],
    [['stray'], /Unexpected argument 'stray'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseClientArgs(argv)).toThrow(UsageError);
    expect(() => parseClientArgs(argv)).toThrow(message);
  });
});

describe('resolveUrl', () => {
  it('uses the user route by default, the authenticated route with a token, and --url as given', () => {
    expect(resolveUrl({})).toBe(`${DEFAULT_BASE_URL}/cli_user`);
    expect(resolveUrl({ user: 'a b' })).toBe(`${DEFAULT_BASE_URL}/a%20b`);
    expect(resolveUrl({ token: 't' })).toBe(DEFAULT_BASE_URL);
    expect(resolveUrl({ url: 'wss://example.test/x', token: 't' })).toBe('wss://example.test/x');
  });

  it('reads the token from the variable --token-env names, for the authenticated route', () => {
    const o = parseClientArgs(['--token-env', 'RTV_TEST_TOKEN', '--text', 'hi'], {
      RTV_TEST_TOKEN: ' key-from-a-secret\n',
    });
    expect(o).toMatchObject({ token: 'key-from-a-secret', url: DEFAULT_BASE_URL });
    expect(() => parseClientArgs(['--token-env', 'RTV_TEST_TOKEN', '--text', 'hi'], {})).toThrow(
      '--token-env RTV_TEST_TOKEN: the variable is unset or empty',
    );
    expect(() => parseClientArgs(['--token', 'a', '--token-env', 'T', '--text', 'hi'], { T: 'b' })).toThrow(
      'give --token or --token-env, not both',
    );
    expect(parseClientArgs(['--require-reply', '--text', 'hi'])).toMatchObject({ requireReply: true });
  });
});
