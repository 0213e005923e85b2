import type { Static } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type ClientMessage,
  type ClientMessageSchema,
  type ClientMessageType,
  type CloseCode,
  type ErrorCode,
  type FrameError,
  type FunctionCallOutputInput,
  parseClientFrame,
  type ServerMessage,
  type ServerMessageSchema,
  type ServerMessageType,
  type SessionConfig,
  type Voice,
} from '../src/index.js';

// Type-level contract checks: tsc (npx tsc -p tsconfig.json) fails if any of these stop holding.
describe('exported types', () => {
  it('schemas and declared unions describe the same messages', () => {
    expectTypeOf<Static<typeof ClientMessageSchema>>().toEqualTypeOf<ClientMessage>();
    expectTypeOf<Static<typeof ServerMessageSchema>>().toEqualTypeOf<ServerMessage>();
  });

  it('message types, codes and voices are literal unions, not string', () => {
    expectTypeOf<ClientMessageType>().toEqualTypeOf<
      | 'session.update'
      | 'conversation.item.input'
      | 'ping'
      | 'input_audio_buffer.commit'
      | 'response.create'
      | 'response.cancel'
      | 'response.truncate'
    >();
    expectTypeOf<'session.notice'>().toExtend<ServerMessageType>();
    expectTypeOf<'internal_error'>().toExtend<ErrorCode>();
    expectTypeOf<string>().not.toExtend<ErrorCode>();
    expectTypeOf<4401>().toExtend<CloseCode>();
    expectTypeOf<'alloy'>().toExtend<Voice>();
    expectTypeOf<'nova'>().not.toExtend<Voice>();
  });

  it('new server messages are in the union, and SessionConfig has the new settings', () => {
    expectTypeOf<'response.function_call'>().toExtend<ServerMessageType>();
    expectTypeOf<'conversation.item.transcript'>().toExtend<ServerMessageType>();
    expectTypeOf<'upstream_invalid_request'>().toExtend<ErrorCode>();
    expectTypeOf<4502>().toExtend<CloseCode>();
    expectTypeOf<SessionConfig['speed']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<{ type: 'semantic_vad'; eagerness: 'low' }>().toExtend<SessionConfig['turn_detection']>();
    expectTypeOf<{ model: 'whisper-1' }>().toExtend<SessionConfig['input_audio_transcription']>();
    expectTypeOf<null>().toExtend<SessionConfig['input_audio_transcription']>();
  });

  it('a parse result narrows on ok and then on type', () => {
    const result = parseClientFrame('{"type":"ping","ping":{"timestamp":1}}');
    if (result.ok) {
      expectTypeOf(result.message).toEqualTypeOf<ClientMessage>();
      if (result.message.type === 'ping') expectTypeOf(result.message.ping.timestamp).toEqualTypeOf<number>();
      if (result.message.type === 'conversation.item.input') {
        const item = result.message.conversation_item_input;
        if (item.type === 'input_audio_buffer') expectTypeOf(item.audio).toEqualTypeOf<string>();
        if (item.type === 'function_call_output') {
          expectTypeOf(item.respond).toEqualTypeOf<boolean | undefined>();
          expectTypeOf(item).toEqualTypeOf<FunctionCallOutputInput>();
        }
        if (item.type === 'input_text') expectTypeOf(item.interrupt).toEqualTypeOf<boolean | undefined>();
      }
    } else {
      expectTypeOf(result.error).toEqualTypeOf<FrameError>();
    }
  });
});
