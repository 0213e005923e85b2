// --tools: the tools go into the session update, each call is printed and answered from the file, and the
// turn ends after the follow-up reply. Against the scripted peer on a real socket.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  answerCall,
  type ClientOptions,
  parseClientArgs,
  parseToolsConfig,
  runClient,
  ToolsFileError,
  USAGE,
} from '../src/index.js';
import { type Peer, startPeer } from './peer.js';

let peer: Peer;
let dir: string;

beforeEach(async () => {
  peer = await startPeer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-tools-'));
});
afterEach(async () => {
  await peer.close();
  rmSync(dir, { recursive: true, force: true });
});

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: { type: 'object', properties: { q: { type: 'string' } } },
};
const time = { type: 'function', name: 'get_time' };

function toolsFile(content: unknown, name = 'tools.json'): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function run(argv: string[]) {
  const options = parseClientArgs(argv) as ClientOptions;
  let out = '';
  let err = '';
  const code = await runClient(options, {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    color: false,
    live: false,
  });
  return { code, out, err };
}

const outputs = () =>
  peer.received
    .map((r) => r.message.conversation_item_input as { type: string } | undefined)
    .filter((i) => i?.type === 'function_call_output');

describe('--tools', () => {
  it('declares the tools, prints each call, answers it from the file and waits for the follow-up reply', async () => {
    const file = toolsFile({
      tools: [weather, time],
      tool_choice: 'auto',
      answers: { get_weather: { temperature_c: 21, sky: 'clear' }, get_time: '12:00' },
    });
    const { code, out, err } = await run([
      '--url',
      peer.url(),
      '--voice',
      'alloy',
      '--tools',
      file,
      '--text',
      'Call get_weather Paris',
    ]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(peer.received[0]?.message).toEqual({
      type: 'session.update',
      session_update: { voice: 'alloy', tools: [weather, time], tool_choice: 'auto' },
    });
    expect(outputs()).toEqual([
      { type: 'function_call_output', call_id: 'call_1', output: '{"temperature_c":21,"sky":"clear"}' },
    ]);
    expect(out).toContain('→ call get_weather({"q":"Paris"})\n');
    expect(out).toContain('← answer get_weather: {"temperature_c":21,"sky":"clear"}\n');
    // The follow-up reply quotes the output; the turn ends after it, with its cached tokens shown.
    expect(out).toContain('< Tool said {"temperature_c":21,"sky":"clear"} \n');
    expect(out.match(/✓ done/g)).toHaveLength(2);
    expect(out).toContain('7 in / 3 out tokens (5 cached)');
    expect(out.indexOf('→ call')).toBeLessThan(out.indexOf('← answer'));
    expect(out.indexOf('← answer')).toBeLessThan(out.indexOf('< Tool said'));
  });

  it('answers a string as is, the calls of one reply together, and a repeated call once', async () => {
    const file = toolsFile({ tools: [weather, time], answers: { get_time: '12:00', get_weather: 'sunny' } });
    const { code, out } = await run([
      '--url',
      peer.url(),
      '--tools',
      file,
      '--text',
      'get_time and get_weather twice',
    ]);
    expect(code).toBe(0);
    expect(outputs()).toEqual([
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny', respond: false },
      { type: 'function_call_output', call_id: 'call_2', output: '12:00' },
    ]);
    expect(out.match(/← answer/g)).toHaveLength(2);
    expect(out.match(/✓ done/g)).toHaveLength(2);
  });

  it('answers a tool without an answer in the file with an error output', async () => {
    const file = toolsFile({ tools: [weather, time], answers: { get_weather: 'sunny' } }, 'my-tools.json');
    const { code, out } = await run(['--url', peer.url(), '--tools', file, '--text', 'get_time please']);
    expect(code).toBe(0);
    expect(outputs()).toEqual([
      {
        type: 'function_call_output',
        call_id: 'call_1',
        output: '{"error":"no answer for get_time in my-tools.json"}',
      },
    ]);
    expect(out).toContain('← answer get_time: {"error":"no answer for get_time in my-tools.json"}\n');
    expect(answerCall(undefined, 'x')).toEqual({
      output: '{"error":"no answer for x (the client was started without --tools)"}',
      error: true,
    });
  });

  it('exits 2 naming the file and the field for a tools file it cannot use, before connecting', async () => {
    const bad = toolsFile({ tools: [{ type: 'function', name: 'bad name' }] });
    const { code, err } = await run(['--url', peer.url(), '--tools', bad, '--text', 'hi']);
    expect(code).toBe(2);
    expect(err).toContain('tools.json: tools[0].name: must be 1-64 characters');
    const missing = await run(['--url', peer.url(), '--tools', path.join(dir, 'none.json'), '--text', 'hi']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*none\.json: ENOENT/);
    const notJson = await run(['--url', peer.url(), '--tools', toolsFile('{', 'x.json'), '--text', 'hi']);
    expect(notJson.err).toMatch(/x\.json: not JSON/);
    expect(peer.received).toEqual([]);
  });

  it.each([
    [[], /\(top level\): must be an object/],
    [{}, /tools: must be a non-empty array/],
    [{ tools: [] }, /tools: must be a non-empty array/],
    [{ tools: [weather], extra: 1 }, /extra: unknown field/],
    [{ tools: ['get_time'] }, /tools\[0\]: must be an object/],
    [{ tools: [{ name: 'x' }] }, /tools\[0\]\.type: must be "function"/],
    [{ tools: [time, time] }, /tools\[1\]\.name: "get_time" is declared twice/],
    [{ tools: [time], answers: [] }, /answers: must be an object/],
    [{ tools: [time], answers: { get_weather: 'x' } }, /answers\.get_weather: no tool of that name/],
    [{ tools: [time], answers: { get_time: 'x'.repeat(65_537) } }, /answers\.get_time: is 65537 characters/],
  ])('rejects the tools file %j', (content, message) => {
    expect(() => parseToolsConfig(content, 'f.json')).toThrow(ToolsFileError);
    expect(() => parseToolsConfig(content, 'f.json')).toThrow(message);
  });

  it('documents the file format in --help', () => {
    expect(USAGE).toContain('--tools <file.json>');
    expect(USAGE).toContain('"answers": { "get_weather"');
    expect(USAGE).toContain('{"error":"no answer for <name> in <file>"}');
  });
});
