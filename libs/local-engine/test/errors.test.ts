import { describe, expect, it } from 'vitest';
import { askText, engine, session } from './helpers.js';

describe('malformed client frames', () => {
  it('answers each with a non-fatal error and keeps the session usable', async () => {
    const client = await session(await engine());

    client.send('not json');
    expect((await client.next()).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_json',
      param: null,
      event_id: null,
    });

    client.ws.send(Buffer.from([1, 2, 3, 4]), { binary: true });
    expect((await client.next()).error).toEqual({
      type: 'invalid_request_error',
      code: 'invalid_event',
      message: 'Expected a text WebSocket message; binary frames are not supported.',
      param: null,
      event_id: null,
    });

    client.send({ type: 'nope', event_id: 'evt_client_7' });
    const unknown = (await client.next()).error as Record<string, string>;
    expect(unknown).toMatchObject({ code: 'invalid_value', param: 'type', event_id: 'evt_client_7' });
    expect(unknown.message).toMatch(/^Invalid value: 'nope'\. Supported values are: 'session\.update', /);

    client.send({ audio: 'AAAA' });
    expect((await client.next()).error).toMatchObject({
      code: 'invalid_event',
      message: "The 'type' field is missing.",
    });

    client.send('[1, 2]');
    expect((await client.next()).error).toMatchObject({ code: 'invalid_event' });

    client.send({ type: 'response.create', bogus: true });
    expect((await client.next()).error).toMatchObject({ code: 'unknown_parameter', param: 'bogus' });

    // Still open and working after six bad frames.
    askText(client, 'still there?');
    expect((await client.next('response.done')).response).toMatchObject({ status: 'completed' });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('never acknowledges input_audio_buffer.append', async () => {
    const client = await session(await engine());
    client.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    client.send({ type: 'input_audio_buffer.clear' });
    expect((await client.next()).type).toBe('input_audio_buffer.cleared');
  });

  it('reports item errors with the provider codes', async () => {
    const client = await session(await engine());
    client.send({ type: 'conversation.item.delete', item_id: 'item_missing' });
    expect((await client.next()).error).toMatchObject({ code: 'item_not_found', param: 'item_id' });
    client.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'output_text', text: 'x' }] },
    });
    expect((await client.next()).error).toMatchObject({
      code: 'invalid_value',
      param: 'item.content[0].type',
    });
    client.send({
      type: 'conversation.item.create',
      previous_item_id: 'item_nowhere',
      item: { type: 'function_call_output', call_id: 'c', output: 'o' },
    });
    expect((await client.next()).error).toMatchObject({ code: 'item_not_found', param: 'previous_item_id' });
    client.send({
      type: 'conversation.item.create',
      item: { id: 'dup', type: 'function_call_output', call_id: 'c', output: 'o' },
    });
    await client.next('conversation.item.done');
    client.send({
      type: 'conversation.item.create',
      item: { id: 'dup', type: 'function_call_output', call_id: 'c', output: 'o' },
    });
    expect((await client.next()).error).toMatchObject({ code: 'item_create_duplicate_item_id' });
  });
});
