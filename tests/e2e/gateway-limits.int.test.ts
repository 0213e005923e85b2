// Frame-size limits at the gateway: a frame over the limit gets a readable error and close 1009; one over
// twice the limit is cut off by uWS while it is still arriving (the connection drops: 1006 at the client,
// nothing buffered); nothing else on the gateway is affected.
import { WsTestClient } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './helpers/stack.js';

describe('gateway frame limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { RTV_MAX_FRAME_BYTES: '4096' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers an oversize frame with message_too_large, then closes 1009; other sessions carry on', async () => {
    const bystander = await WsTestClient.connect(stack.wsUrl('bystander'));
    await bystander.nextOfType('session.created');
    const ws = await WsTestClient.connect(stack.wsUrl('big'));
    await ws.nextOfType('session.created');
    ws.send({
      type: 'conversation.item.input',
      conversation_item_input: { type: 'input_text', text: 'x'.repeat(5000) },
    });
    const err = await ws.nextOfType<{ error: { code: string } }>('error');
    expect(err.error.code).toBe('message_too_large');
    expect((await ws.closed).code).toBe(1009);

    const huge = await WsTestClient.connect(stack.wsUrl('huge'));
    await huge.nextOfType('session.created');
    huge.send('x'.repeat(64 * 1024));
    expect((await huge.closed).code).toBe(1006);

    bystander.send({ type: 'ping', ping: { timestamp: 1.5 } });
    expect(await bystander.nextOfType('pong')).toEqual({ type: 'pong', timestamp: 1.5 });
    await bystander.close();
  });

  it('refuses odd-sized and oversize binary audio frames', async () => {
    const ws = await WsTestClient.connect(stack.wsUrl('binary'));
    await ws.nextOfType('session.created');
    ws.send(Buffer.alloc(3));
    expect((await ws.nextOfType<{ error: { code: string } }>('error')).error.code).toBe('invalid_audio');
    ws.send(Buffer.alloc(960));
    ws.send({ type: 'ping', ping: { timestamp: 2 } });
    await ws.nextOfType('pong');
    await ws.close();
  });
});
