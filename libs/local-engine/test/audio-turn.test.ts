import { describe, expect, it } from 'vitest';
import { replyToAudio } from '../src/index.js';
import {
  appendAudio,
  engine,
  itemOf,
  replyOf,
  responseOf,
  session,
  silence,
  speechBurst,
} from './helpers.js';

/** 500 ms silence, 800 ms speech, 700 ms silence: one clear turn. */
const TURN = Buffer.concat([silence(500), speechBurst(800), silence(700)]);

describe('audio turn with server VAD', () => {
  it('detects the turn, commits it and answers automatically (§8.2 order)', async () => {
    const client = await session(await engine());
    appendAudio(client, TURN);
    const events = await client.through('rate_limits.updated');
    const frame = events.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
    expect(frame).toEqual([
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
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
    const [started, stopped, committed, added] = events;
    // Offsets are in appended audio: onset 500 ms minus 300 ms prefix padding; speech ends at 1300 ms,
    // plus the 200 ms silence window. One 10 ms analysis frame of slack either way.
    expect(started!.audio_start_ms).toBeGreaterThanOrEqual(190);
    expect(started!.audio_start_ms).toBeLessThanOrEqual(210);
    expect(stopped!.audio_end_ms).toBeGreaterThanOrEqual(1490);
    expect(stopped!.audio_end_ms).toBeLessThanOrEqual(1520);
    expect(stopped!.item_id).toBe(started!.item_id);
    expect(committed).toMatchObject({ item_id: started!.item_id, previous_item_id: null });
    expect(added!.item).toEqual({
      id: started!.item_id,
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null }],
    });
    // Everything appended up to the stop (the whole buffer) is the user's turn.
    const stoppedMs = Number(stopped!.audio_end_ms);
    const transcript = events.find((e) => e.type === 'response.output_audio_transcript.done')!.transcript;
    expect(transcript).toBe(replyToAudio(stoppedMs));
    const usage = responseOf(events.find((e) => e.type === 'response.done')).usage;
    expect(usage.input_token_details.audio_tokens).toBe(Math.ceil(stoppedMs / 100));
  });

  it('cancels the active response on barge-in, closing every open part first', async () => {
    const client = await session(await engine({ pace: true }));
    appendAudio(client, TURN);
    const created = await client.next('response.created');
    await client.next('response.output_audio.delta');
    appendAudio(client, Buffer.concat([speechBurst(400), silence(400)]));
    await client.next('input_audio_buffer.speech_started');
    const closing = await client.through('response.done');
    const frame = closing.map((e) => e.type).filter((t) => !t.endsWith('.delta'));
    expect(frame).toEqual([
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'conversation.item.done',
      'response.output_item.done',
      'response.done',
    ]);
    expect(closing.at(-1)!.response).toMatchObject({
      id: (created.response as { id: string }).id,
      status: 'cancelled',
      status_details: { type: 'cancelled', reason: 'turn_detected' },
    });
    // The interrupting speech becomes the next turn, answered by a new response.
    await client.next('input_audio_buffer.speech_stopped');
    const next = await client.next('response.created');
    expect((next.response as { id: string }).id).not.toBe((created.response as { id: string }).id);
  });

  it('answers after idle_timeout_ms of silence following a response', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: { input: { turn_detection: { type: 'server_vad', idle_timeout_ms: 5000 } } },
      },
    });
    await client.next('session.updated');
    appendAudio(client, TURN);
    await client.next('response.done');
    appendAudio(client, silence(6000));
    const timeout = await client.next('input_audio_buffer.timeout_triggered');
    expect(Number(timeout.audio_end_ms) - Number(timeout.audio_start_ms)).toBe(5000);
    expect((await client.next('input_audio_buffer.committed')).item_id).toBe(timeout.item_id);
    await client.next('response.created');
  });

  it('announces the committed turn with conversation.item.created for beta clients', async () => {
    const client = await session(await engine({ allowBetaShape: true }), {
      headers: { 'OpenAI-Beta': 'realtime=v1' },
    });
    appendAudio(client, TURN);
    const events = await client.through('response.created');
    expect(events.map((e) => e.type)).toEqual([
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.created',
      'response.created',
    ]);
    expect(itemOf(events[3])).toMatchObject({
      object: 'realtime.item',
      content: [{ type: 'input_audio', transcript: null }],
    });
  });

  it('approximates semantic_vad with an eagerness-dependent silence window', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        audio: { input: { turn_detection: { type: 'semantic_vad', eagerness: 'low' } } },
      },
    });
    await client.next('session.updated');
    // 600 ms of silence ends a turn at the default 200 ms window, but not at eagerness "low" (800 ms).
    appendAudio(client, Buffer.concat([speechBurst(600), silence(600), speechBurst(600), silence(1000)]));
    const started = await client.next('input_audio_buffer.speech_started');
    const stopped = await client.next('input_audio_buffer.speech_stopped');
    expect(Number(stopped.audio_end_ms) - Number(started.audio_start_ms)).toBeGreaterThan(1800);
  });

  it('reports an input transcript when transcription is configured', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe' } } } },
    });
    await client.next('session.updated');
    appendAudio(client, TURN);
    const committed = await client.next('input_audio_buffer.committed');
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    expect(completed).toMatchObject({
      item_id: committed.item_id,
      content_index: 0,
      transcript: expect.stringMatching(/^\[speech \d+\.\d\d s\]$/),
      usage: { type: 'tokens' },
    });
  });
});

describe('manual turns (turn_detection: null)', () => {
  it('detects nothing, refuses a short commit, then commits and answers on request', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: null } } },
    });
    await client.next('session.updated');

    appendAudio(client, speechBurst(50), 50);
    client.send({ type: 'input_audio_buffer.commit' });
    const empty = (await client.next()).error as { code: string; message: string };
    expect(empty.code).toBe('input_audio_buffer_commit_empty');
    expect(empty.message).toContain('buffer only has 50.00ms of audio');

    appendAudio(client, Buffer.concat([speechBurst(700), silence(600)]));
    client.send({ type: 'input_audio_buffer.commit' });
    const events = await client.through('conversation.item.done');
    // The earlier 50 ms were not discarded by the failed commit: 1350 ms in all, and no VAD events.
    expect(events.map((e) => e.type)).toEqual([
      'input_audio_buffer.committed',
      'conversation.item.added',
      'conversation.item.done',
    ]);
    client.send({ type: 'response.create' });
    expect(replyOf(responseOf(await client.next('response.done')))).toBe(replyToAudio(1350));
  });

  it('clears the buffer on input_audio_buffer.clear', async () => {
    const client = await session(await engine());
    client.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { turn_detection: null } } },
    });
    await client.next('session.updated');
    appendAudio(client, speechBurst(500));
    client.send({ type: 'input_audio_buffer.clear' });
    expect((await client.next()).type).toBe('input_audio_buffer.cleared');
    client.send({ type: 'input_audio_buffer.commit' });
    expect((await client.next()).error).toMatchObject({ code: 'input_audio_buffer_commit_empty' });
  });
});
