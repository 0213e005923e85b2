import { describe, expect, it } from 'vitest';
import { planToolCall } from '../src/index.js';
import {
  askText,
  engine,
  itemOf,
  type Json,
  type RealtimeTestClient,
  replyOf,
  responseOf,
  session,
} from './helpers.js';

const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      days: { type: 'integer' },
    },
    required: ['city'],
  },
};
const HANGUP = { type: 'function', name: 'end_call', description: 'Hang up' };
const CALL_ID = /^call_[0-9A-Za-z]{21}$/;

async function withTools(tools: unknown[], toolChoice: unknown = 'auto'): Promise<RealtimeTestClient> {
  const client = await session(await engine());
  client.send({
    type: 'session.update',
    session: { type: 'realtime', output_modalities: ['text'], tools, tool_choice: toolChoice },
  });
  const updated = await client.next();
  expect(updated.type).toBe('session.updated');
  return client;
}

/** The function_call_arguments.done of the next response, or null when it answers with a message. */
async function nextCall(client: RealtimeTestClient): Promise<Json | null> {
  const events = await client.through('response.done');
  return events.find((e) => e.type === 'response.function_call_arguments.done') ?? null;
}

describe('function calling (§8.4)', () => {
  it('calls a tool the user names, with the exact event sequence and item shapes', async () => {
    const client = await withTools([WEATHER, HANGUP]);
    askText(client, 'Please run get_weather Paris.');
    const events = await client.through('rate_limits.updated');
    const types = events.map((e) => e.type);
    expect(types.filter((t, i) => t !== types[i - 1])).toEqual([
      'conversation.item.added',
      'conversation.item.done',
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    const added = itemOf(events[3]);
    expect(added).toEqual({
      id: expect.stringMatching(/^item_/),
      type: 'function_call',
      status: 'in_progress',
      call_id: expect.stringMatching(CALL_ID),
      name: 'get_weather',
      arguments: '',
    });
    expect(events[3]).toMatchObject({ output_index: 0, response_id: expect.stringMatching(/^resp_/) });
    expect(events[4]).toMatchObject({ previous_item_id: itemOf(events[0]).id, item: added });

    const done = events.find((e) => e.type === 'response.function_call_arguments.done')!;
    const expectedArgs = { city: 'Paris', unit: 'celsius', days: 1 };
    expect(done).toMatchObject({
      item_id: added.id,
      output_index: 0,
      call_id: added.call_id,
      name: 'get_weather',
    });
    expect(JSON.parse(String(done.arguments))).toEqual(expectedArgs);
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta');
    expect(deltas.every((d) => d.call_id === added.call_id && d.item_id === added.id)).toBe(true);
    expect(deltas.map((d) => d.delta).join('')).toBe(done.arguments);

    const final = { ...added, status: 'completed', arguments: done.arguments };
    expect(itemOf(events.find((e, i) => i > 4 && e.type === 'conversation.item.done'))).toEqual(final);
    expect(itemOf(events.find((e) => e.type === 'response.output_item.done'))).toEqual(final);
    const response = responseOf(events.find((e) => e.type === 'response.done'));
    expect(response.status).toBe('completed');
    expect(response.output).toEqual([final]);
    expect(response.usage.output_tokens).toBeGreaterThan(0);
  });

  it('answers the next response.create with a reply that quotes the function output', async () => {
    const client = await withTools([WEATHER]);
    askText(client, 'get_weather Oslo');
    const call = (await nextCall(client))!;
    const output = JSON.stringify({ city: 'Oslo', temp_c: -3, sky: 'snow' });
    client.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: call.call_id, output },
    });
    const added = await client.next('conversation.item.added');
    expect(itemOf(added)).toMatchObject({ type: 'function_call_output', call_id: call.call_id, output });
    client.send({ type: 'response.create' });
    const events = await client.through('response.done');
    expect(events.some((e) => e.type.startsWith('response.function_call'))).toBe(false);
    expect(replyOf(responseOf(events.at(-1)))).toBe(`The get_weather call returned: ${output}`);
  });

  it('follows tool_choice: none never calls, required and a named function always do', async () => {
    const none = await withTools([WEATHER], 'none');
    askText(none, 'get_weather Rome');
    expect(await nextCall(none)).toBeNull();

    const required = await withTools([HANGUP, WEATHER], 'required');
    askText(required, 'Tell me a joke');
    const forced = (await nextCall(required))!;
    expect(forced).toMatchObject({ name: 'end_call', arguments: '{}' });
    // A response right after the tool result answers it, so the cycle ends even with "required".
    required.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: forced.call_id, output: 'ok' },
    });
    required.send({ type: 'response.create' });
    expect(replyOf(responseOf(await required.next('response.done')))).toBe('The end_call call returned: ok');

    const named = await withTools([WEATHER, HANGUP], { type: 'function', name: 'get_weather' });
    askText(named, 'Is it cold in Lima?');
    // The tool is not named in the text: string arguments get the whole message, minus final punctuation.
    expect(JSON.parse(String((await nextCall(named))!.arguments))).toEqual({
      city: 'Is it cold in Lima',
      unit: 'celsius',
      days: 1,
    });

    // Per-response tool_choice overrides the session's.
    const auto = await withTools([WEATHER]);
    auto.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'get_weather Bern' }] },
    });
    auto.send({ type: 'response.create', response: { tool_choice: 'none' } });
    expect(await nextCall(auto)).toBeNull();
  });

  it('needs the exact tool name as a whole token under auto', async () => {
    const client = await withTools([WEATHER]);
    for (const text of ['get weather in Paris', 'GET_WEATHER Paris', 'call get_weather_v2 now']) {
      askText(client, text);
      expect(await nextCall(client), text).toBeNull();
    }
  });

  it('accepts restored history: function_call items and outputs for any call_id', async () => {
    const client = await session(await engine());
    client.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'] } });
    await client.next('session.updated');
    const history = [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Book a table' }] },
      { type: 'function_call', call_id: 'call_restored_1', name: 'book_table', arguments: '{"seats":2}' },
      { type: 'function_call_output', call_id: 'call_restored_1', output: 'booked for 8pm' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }] },
      { type: 'function_call_output', call_id: 'call_never_made', output: 'orphan result' },
    ];
    for (const item of history) {
      client.send({ type: 'conversation.item.create', item });
      const done = await client.next('conversation.item.done');
      expect(itemOf(done)).toMatchObject({ type: item.type, status: 'completed' });
    }
    client.send({ type: 'response.create' });
    expect(replyOf(responseOf(await client.next('response.done')))).toBe(
      'The function call returned: orphan result',
    );
    const restored = client.received.find(
      (e) => e.type === 'conversation.item.done' && itemOf(e).type === 'function_call',
    );
    expect(itemOf(restored)).toMatchObject({
      call_id: 'call_restored_1',
      name: 'book_table',
      arguments: '{"seats":2}',
    });
  });

  it('validates tools and tool_choice like the GA API', async () => {
    const client = await session(await engine());
    const cases: [Record<string, unknown>, string, string][] = [
      [{ tools: [{ ...WEATHER, bogus: 1 }] }, 'unknown_parameter', 'session.tools[0].bogus'],
      [{ tools: [{ type: 'function' }] }, 'missing_required_parameter', 'session.tools[0].name'],
      [{ tools: [{ name: 'x' }] }, 'missing_required_parameter', 'session.tools[0].type'],
      [{ tools: [{ type: 'function', name: 'has space' }] }, 'invalid_value', 'session.tools[0].name'],
      [
        { tools: [{ type: 'function', name: 'x'.repeat(65) }] },
        'string_above_max_length',
        'session.tools[0].name',
      ],
      [
        { tools: [{ type: 'function', name: 'f', parameters: 'x' }] },
        'invalid_type',
        'session.tools[0].parameters',
      ],
      [{ tools: [{ type: 'web_search' }] }, 'invalid_value', 'session.tools[0].type'],
      [
        { tools: [{ type: 'mcp', server_label: 's', nope: 1 }] },
        'unknown_parameter',
        'session.tools[0].nope',
      ],
      [{ tool_choice: 'sometimes' }, 'invalid_value', 'session.tool_choice'],
      [{ tool_choice: { type: 'function' } }, 'missing_required_parameter', 'session.tool_choice.name'],
      [{ tool_choice: { type: 'function', name: 'f', x: 1 } }, 'unknown_parameter', 'session.tool_choice.x'],
    ];
    for (const [patch, code, param] of cases) {
      client.send({ type: 'session.update', session: { type: 'realtime', ...patch } });
      expect((await client.next()).error, param).toMatchObject({ code, param });
    }
    const mcp = { type: 'mcp', server_label: 'docs', server_url: 'https://mcp.example/sse' };
    client.send({
      type: 'session.update',
      session: { type: 'realtime', tools: [WEATHER, mcp], tool_choice: 'required' },
    });
    expect((await client.next()).session).toMatchObject({ tools: [WEATHER, mcp], tool_choice: 'required' });
  });
});

describe('planToolCall (pure rule)', () => {
  const user = (text: string) => [
    {
      id: 'item_1',
      type: 'message' as const,
      role: 'user' as const,
      status: 'completed' as const,
      content: [{ type: 'input_text' as const, text }],
    },
  ];
  const tool = (name: string, parameters?: Record<string, unknown>) => ({
    type: 'function' as const,
    name,
    ...(parameters ? { parameters } : {}),
  });

  it('fills properties deterministically and picks the first named tool in tools order', () => {
    const tools = [
      tool('lookup', { type: 'object', properties: { q: { type: 'string' }, exact: { type: 'boolean' } } }),
      tool('log_note', {
        type: 'object',
        properties: {
          note: { type: ['string', 'null'] },
          tags: { type: 'array' },
          meta: { type: 'object', properties: { by: { type: 'string' } } },
        },
      }),
    ];
    expect(planToolCall(tools, 'auto', user('log_note buy milk! then lookup'))).toEqual({
      name: 'lookup',
      arguments: '{"q":"","exact":true}',
    });
    expect(planToolCall(tools, 'auto', user('please log_note buy milk!'))).toEqual({
      name: 'log_note',
      arguments: '{"note":"buy milk","tags":[],"meta":{"by":"buy milk"}}',
    });
    expect(planToolCall(tools, 'auto', user('nothing to do'))).toBeNull();
    expect(planToolCall([tool('ping')], 'auto', user('ping'))).toEqual({ name: 'ping', arguments: '{}' });
  });
});
