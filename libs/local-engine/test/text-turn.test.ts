import { describe, expect, it } from 'vitest';
import { replyToText } from '../src/index.js';
import { askText, audioOf, engine, type Json, replyOf, responseOf, rms, session } from './helpers.js';

const BETA = { headers: { 'OpenAI-Beta': 'realtime=v1' } };
const isDelta = (t: string) => t.endsWith('.delta');

/** Event types of a turn without the delta streams, plus the delta types seen (in first-seen order). */
function shapeOf(events: Json[]): { frame: string[]; deltas: string[] } {
  const types = events.map((e) => e.type);
  return { frame: types.filter((t) => !isDelta(t)), deltas: [...new Set(types.filter(isDelta))] };
}

describe('text turn (GA)', () => {
  it('emits the exact audio-turn event order with an interleaved transcript and real PCM16', async () => {
    const client = await session(await engine());
    askText(client, 'What is the weather like?');
    const events = await client.through('rate_limits.updated');
    const { frame, deltas } = shapeOf(events);
    expect(frame).toEqual([
      'conversation.item.added',
      'conversation.item.done',
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.content_part.added',
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    expect(deltas).toEqual(['response.output_audio_transcript.delta', 'response.output_audio.delta']);
    // Deltas sit between content_part.added and output_audio.done, and the two streams interleave.
    const types = events.map((e) => e.type);
    const firstAudio = types.indexOf('response.output_audio.delta');
    expect(firstAudio).toBeGreaterThan(types.indexOf('response.content_part.added'));
    expect(types.lastIndexOf('response.output_audio_transcript.delta')).toBeGreaterThan(firstAudio);
    expect(types.lastIndexOf('response.output_audio.delta')).toBeLessThan(
      types.indexOf('response.output_audio.done'),
    );

    const expected = replyToText('What is the weather like?');
    const transcript = events
      .filter((e) => e.type === 'response.output_audio_transcript.delta')
      .map((e) => e.delta)
      .join('');
    expect(transcript).toBe(expected);
    expect(events.find((e) => e.type === 'response.output_audio_transcript.done')?.transcript).toBe(expected);

    const user = events[0]!.item as Record<string, unknown>;
    const assistantAdded = events[4]!;
    expect(assistantAdded.previous_item_id).toBe(user.id);
    expect(assistantAdded.item).toMatchObject({
      type: 'message',
      role: 'assistant',
      status: 'in_progress',
      content: [],
    });

    const pcm = audioOf(events);
    const seconds = pcm.length / 48_000;
    expect(pcm.length % 2).toBe(0);
    expect(seconds).toBeGreaterThan(0.5);
    expect(seconds).toBeLessThan(expected.length * 0.2);
    expect(rms(pcm)).toBeGreaterThan(0.02);
    // ~100 ms per delta (the last one may be shorter).
    const first = Buffer.from(String(events[firstAudio]!.delta), 'base64');
    expect(first.length).toBe(4800);

    const done = responseOf(events.find((e) => e.type === 'response.done'));
    expect(done).toMatchObject({
      object: 'realtime.response',
      status: 'completed',
      status_details: null,
      conversation_id: expect.stringMatching(/^conv_/),
      output_modalities: ['audio'],
      output: [
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_audio', transcript: expected }],
        },
      ],
    });
    const usage = done.usage;
    expect(usage.output_token_details.audio_tokens).toBe(Math.ceil(pcm.length / 48 / 50));
    expect(usage.output_token_details.text_tokens).toBe(Math.ceil(expected.length / 4));
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    expect(usage.input_token_details.text_tokens).toBeGreaterThan(0);
  });

  it('is deterministic: the same input gives the same words and the same audio', async () => {
    const e = await engine();
    const run = async () => {
      const client = await session(e);
      askText(client, 'Tell me about tides.');
      const events = await client.through('response.done');
      return { audio: audioOf(events), done: responseOf(events.at(-1)) };
    };
    const [a, b] = [await run(), await run()];
    expect(a.audio.equals(b.audio)).toBe(true);
    expect(replyOf(a.done)).toBe(replyOf(b.done));
    expect(a.done.usage).toEqual(b.done.usage);
  });

  it('sends text events only when output_modalities is ["text"]', async () => {
    const client = await session(await engine());
    client.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'] } });
    await client.next('session.updated');
    askText(client, 'Say hi in three words');
    const events = await client.through('rate_limits.updated');
    const { frame, deltas } = shapeOf(events);
    expect(frame).toEqual([
      'conversation.item.added',
      'conversation.item.done',
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    expect(deltas).toEqual(['response.output_text.delta']);
    expect(events.find((e) => e.type === 'response.content_part.added')!.part).toEqual({
      type: 'text',
      text: '',
    });
    const done = responseOf(events.find((e) => e.type === 'response.done'));
    expect(done.output[0]?.content).toEqual([
      { type: 'output_text', text: replyToText('Say hi in three words') },
    ]);
    expect(done.usage.output_token_details.audio_tokens).toBe(0);
  });
});

describe('memory', () => {
  it('answers "what did I say" from the earlier user message of the conversation', async () => {
    const client = await session(await engine());
    askText(client, 'My name is Ada.');
    await client.through('response.done');
    askText(client, 'What did I say earlier?');
    const events = await client.through('response.done');
    expect(replyOf(responseOf(events.at(-1)))).toBe('Earlier you said: "My name is Ada."');
  });

  it('says so when nothing was said before', async () => {
    const client = await session(await engine());
    askText(client, 'What did I say?');
    const events = await client.through('response.done');
    expect(replyOf(responseOf(events.at(-1)))).toBe('You have not said anything before this.');
  });
});

describe('text turn (beta)', () => {
  it('uses conversation.item.created and the beta delta names', async () => {
    const client = await session(await engine({ allowBetaShape: true }), BETA);
    askText(client, 'Hello there');
    const events = await client.through('rate_limits.updated');
    const { frame, deltas } = shapeOf(events);
    expect(frame).toEqual([
      'conversation.item.created',
      'response.created',
      'response.output_item.added',
      'conversation.item.created',
      'response.content_part.added',
      'response.audio.done',
      'response.audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.done',
      'rate_limits.updated',
    ]);
    expect(deltas).toEqual(['response.audio_transcript.delta', 'response.audio.delta']);
    expect(events[0]!.item).toMatchObject({ object: 'realtime.item', type: 'message', role: 'user' });
    const done = responseOf(events.find((e) => e.type === 'response.done'));
    expect(done).toMatchObject({
      modalities: ['text', 'audio'],
      voice: 'alloy',
      output_audio_format: 'pcm16',
    });
    expect(done.output[0]?.content).toEqual([
      { type: 'audio', transcript: 'Hello! How can I help you today?' },
    ]);
    expect(audioOf(events, 'response.audio.delta').length).toBeGreaterThan(24_000);
    expect(events.at(-1)!.rate_limits).toHaveLength(2);
  });

  it('streams response.text.delta for modalities ["text"]', async () => {
    const client = await session(await engine({ allowBetaShape: true }), BETA);
    client.send({ type: 'session.update', session: { modalities: ['text'] } });
    await client.next('session.updated');
    askText(client, 'Plain text please.');
    const { frame, deltas } = shapeOf(await client.through('response.done'));
    expect(deltas).toEqual(['response.text.delta']);
    expect(frame).toContain('response.text.done');
    expect(frame).not.toContain('response.audio.done');
  });
});
