import { describe, expect, it } from 'vitest';
import { askText, engine, itemOf, replyOf, responseOf, session } from './helpers.js';

describe('responses', () => {
  it('refuses a second response while one is active, and cancels with every *.done first', async () => {
    // Paced in real time (via the `realtime` alias of `pace`) so the first response is still streaming
    // when the next requests arrive.
    const client = await session(await engine({ realtime: true }));
    askText(client, 'Please give me a long answer about the sea and the sky.');
    const created = await client.next('response.created');
    const id = (created.response as { id: string }).id;
    await client.next('response.output_audio.delta');
    client.send({ type: 'response.create', event_id: 'evt_second' });
    const refused = await client.next('error');
    expect(refused.error).toMatchObject({
      code: 'conversation_already_has_active_response',
      event_id: 'evt_second',
    });
    expect((refused.error as { message: string }).message).toContain(id);

    client.send({ type: 'response.cancel' });
    const closing = await client.through('rate_limits.updated');
    const frame = closing.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
    expect(frame).toEqual([
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    const done = responseOf(closing.find((e) => e.type === 'response.done'));
    expect(done).toMatchObject({
      id,
      status: 'cancelled',
      status_details: { type: 'cancelled', reason: 'client_cancelled' },
      output: [{ status: 'incomplete' }],
    });

    client.send({ type: 'response.cancel' });
    expect((await client.next('error')).error).toMatchObject({
      code: 'response_cancel_not_active',
      message: 'Cancellation failed: no active response found',
    });
    // No response.created followed the refused request.
    expect(client.received.filter((e) => e.type === 'response.created')).toHaveLength(1);
  });

  it('ends incomplete when max_output_tokens is reached', async () => {
    const client = await session(await engine());
    client.send({
      type: 'conversation.item.create',
      item: {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: 'Explain everything you know.' }],
      },
    });
    client.send({ type: 'response.create', response: { output_modalities: ['text'], max_output_tokens: 3 } });
    const done = responseOf(await client.next('response.done'));
    expect(done.status).toBe('incomplete');
    expect(done.status_details).toEqual({ type: 'incomplete', reason: 'max_output_tokens' });
    expect(done.usage.output_tokens).toBeLessThanOrEqual(3);
    expect(done.output[0]?.status).toBe('incomplete');
  });

  it('fails the next response on demand, then recovers', async () => {
    const e = await engine();
    const client = await session(e);
    e.failNextResponse({ type: 'server_error', code: 'overloaded', message: 'Injected failure.' });
    askText(client, 'first');
    const failed = await client.through('response.done');
    expect(failed.map((x) => x.type).slice(-2)).toEqual(['response.created', 'response.done']);
    expect(failed.at(-1)!.response).toMatchObject({
      status: 'failed',
      status_details: {
        type: 'failed',
        error: { type: 'server_error', code: 'overloaded', message: 'Injected failure.' },
      },
      usage: { total_tokens: 0 },
    });
    client.send({ type: 'response.create' });
    expect(responseOf(await client.next('response.done')).status).toBe('completed');
  });

  it('calls a function when the tool choice requires it, then answers from its output', async () => {
    const client = await session(await engine());
    const tool = {
      type: 'function',
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city', 'days'],
      },
    };
    client.send({
      type: 'session.update',
      session: { type: 'realtime', tools: [tool], tool_choice: 'auto' },
    });
    await client.next('session.updated');
    askText(client, 'Use get_weather Paris please.');
    const events = await client.through('response.done');
    const frame = events.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
    expect(frame.slice(2)).toEqual([
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.function_call_arguments.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
    ]);
    const args = events.find((e) => e.type === 'response.function_call_arguments.done')!;
    expect(args).toMatchObject({ name: 'get_weather', call_id: expect.stringMatching(/^call_/) });
    expect(JSON.parse(String(args.arguments))).toEqual({ city: 'Paris please', days: 1 });
    const streamed = events
      .filter((e) => e.type === 'response.function_call_arguments.delta')
      .map((e) => e.delta);
    expect(streamed.join('')).toBe(args.arguments);

    client.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: args.call_id, output: '{"temp_c":21}' },
    });
    client.send({ type: 'response.create' });
    const done = responseOf(await client.next('response.done'));
    expect(replyOf(done)).toBe('The get_weather call returned: {"temp_c":21}');
  });

  it('runs out-of-band responses beside the conversation without writing to it', async () => {
    const client = await session(await engine());
    client.send({
      type: 'response.create',
      response: {
        conversation: 'none',
        output_modalities: ['text'],
        metadata: { purpose: 'summary' },
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Summarise.' }] }],
      },
    });
    const events = await client.through('response.done');
    expect(events.map((e) => e.type)).not.toContain('conversation.item.added');
    expect(events.at(-1)!.response).toMatchObject({
      conversation_id: null,
      metadata: { purpose: 'summary' },
      output: [{ content: [{ type: 'output_text', text: 'You said: Summarise.' }] }],
    });
  });
});

describe('conversation items', () => {
  it('inserts at root, retrieves with audio, truncates assistant audio and deletes', async () => {
    const client = await session(await engine());
    askText(client, 'Hello');
    const done = responseOf(await client.next('response.done'));
    const assistant = done.output[0]!;

    client.send({
      type: 'conversation.item.create',
      previous_item_id: 'root',
      item: {
        id: 'sys_1',
        type: 'message',
        role: 'system',
        content: [{ type: 'input_text', text: 'Be kind.' }],
      },
    });
    expect((await client.next('conversation.item.added')).previous_item_id).toBeNull();

    client.send({ type: 'conversation.item.retrieve', item_id: assistant.id });
    const retrieved = itemOf(await client.next('conversation.item.retrieved'));
    const audio = Buffer.from(String(retrieved.content[0]?.audio), 'base64');
    expect(audio.length).toBeGreaterThan(4800);

    client.send({ type: 'conversation.item.truncate', item_id: 'sys_1', content_index: 0, audio_end_ms: 0 });
    expect((await client.next('error')).error).toMatchObject({
      code: null,
      message: 'Only model output audio messages can be truncated',
    });
    const fullMs = audio.length / 48;
    client.send({
      type: 'conversation.item.truncate',
      item_id: assistant.id,
      content_index: 0,
      audio_end_ms: Math.ceil(fullMs) + 500,
    });
    expect(((await client.next('error')).error as { message: string }).message).toMatch(
      /^Audio content of \d+ms is already shorter than \d+ms$/,
    );
    client.send({
      type: 'conversation.item.truncate',
      item_id: assistant.id,
      content_index: 0,
      audio_end_ms: 300,
    });
    expect(await client.next('conversation.item.truncated')).toMatchObject({
      item_id: assistant.id,
      audio_end_ms: 300,
    });
    client.send({ type: 'conversation.item.retrieve', item_id: assistant.id });
    const cut = itemOf(await client.next('conversation.item.retrieved'));
    expect(Buffer.from(String(cut.content[0]?.audio), 'base64').length).toBe(300 * 48);
    // Like the provider, truncation deletes the server-side transcript: no unheard text stays in the context.
    expect(assistant.content[0]?.transcript).not.toBe('');
    expect(cut.content[0]?.transcript).toBe('');

    client.send({ type: 'conversation.item.delete', item_id: 'sys_1' });
    expect(await client.next('conversation.item.deleted')).toMatchObject({ item_id: 'sys_1' });
  });

  it('refuses to change the voice once the assistant has spoken', async () => {
    const client = await session(await engine());
    askText(client, 'Hi');
    await client.next('response.done');
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { output: { voice: 'echo' } } },
    });
    expect((await client.next('error')).error).toMatchObject({ code: 'cannot_update_voice' });
  });
});
