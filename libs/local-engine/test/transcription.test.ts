import { describe, expect, it } from 'vitest';
import { describeAudio, parseSpeechTranscript, replyToAudio } from '../src/index.js';
import {
  appendAudio,
  engine,
  itemOf,
  type Json,
  type RealtimeTestClient,
  replyOf,
  responseOf,
  session,
  silence,
  speechBurst,
} from './helpers.js';

const TURN = Buffer.concat([silence(500), speechBurst(800), silence(700)]);
const DELTA = 'conversation.item.input_audio_transcription.delta';
const COMPLETED = 'conversation.item.input_audio_transcription.completed';

async function configure(client: RealtimeTestClient, input: Record<string, unknown>): Promise<Json> {
  client.send({ type: 'session.update', session: { type: 'realtime', audio: { input } } });
  return client.next('session.updated');
}

describe('input transcription stand-in', () => {
  it('formats and parses the documented stand-in transcript', () => {
    expect(describeAudio(2340)).toBe('[speech 2.34 s]');
    expect(describeAudio(4000)).toBe('[speech 4.00 s]');
    expect(describeAudio(1234.6)).toBe('[speech 1.23 s]');
    expect(describeAudio(105)).toBe('[speech 0.11 s]');
    expect(parseSpeechTranscript('[speech 2.34 s]')).toBe(2340);
    expect(parseSpeechTranscript(' [speech 4.00 s] ')).toBe(4000);
    expect(parseSpeechTranscript('hello')).toBeNull();
  });

  it('transcribes a server-VAD turn: deltas then completed, for the committed item', async () => {
    const client = await session(await engine());
    const updated = await configure(client, { transcription: { model: 'whisper-1', language: 'en' } });
    expect(updated.session).toMatchObject({
      audio: { input: { transcription: { model: 'whisper-1', language: 'en', prompt: null } } },
    });
    appendAudio(client, TURN);
    const events = await client.through('response.done');
    const types = events.map((e) => e.type).filter((t) => !t.startsWith('response.'));
    expect(types.slice(0, 5)).toEqual([
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.added',
      'conversation.item.done',
    ]);
    const stopped = events[1]!;
    const committed = events[2]!;
    const deltas = events.filter((e) => e.type === DELTA);
    const completed = events.find((e) => e.type === COMPLETED)!;
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(events.indexOf(deltas[0]!)).toBeGreaterThan(events.indexOf(events[4]!));
    expect(events.indexOf(completed)).toBeGreaterThan(events.indexOf(deltas.at(-1)!));
    for (const e of [...deltas, completed]) {
      expect(e).toMatchObject({ item_id: committed.item_id, content_index: 0 });
    }
    const transcript = String(completed.transcript);
    expect(deltas.map((d) => d.delta).join('')).toBe(transcript);
    // The commit takes everything appended up to the 100 ms chunk in which the turn ended.
    const heard = parseSpeechTranscript(transcript)!;
    const endMs = Number(stopped.audio_end_ms);
    expect(heard).toBeGreaterThanOrEqual(endMs);
    expect(heard).toBeLessThanOrEqual(endMs + 100);
    expect(completed.usage).toEqual({ type: 'duration', seconds: Math.round(heard / 100) / 10 });
    // The reply still answers the audio, not the stand-in text.
    expect(replyOf(responseOf(events.at(-1)))).toBe(replyToAudio(heard));
  });

  it('transcribes a manual commit and reports exactly how much audio was heard', async () => {
    const client = await session(await engine());
    await configure(client, {
      turn_detection: null,
      transcription: { model: 'gpt-4o-transcribe', prompt: 'names' },
    });
    appendAudio(client, Buffer.concat([speechBurst(3000), silence(1000)]));
    client.send({ type: 'input_audio_buffer.commit' });
    const committed = await client.next('input_audio_buffer.committed');
    const completed = await client.next(COMPLETED);
    expect(completed).toMatchObject({
      item_id: committed.item_id,
      transcript: '[speech 4.00 s]',
      usage: { type: 'tokens', input_tokens: 40, input_token_details: { audio_tokens: 40 } },
    });
    expect(parseSpeechTranscript(String(completed.transcript))).toBe(4000);
    // The item carries the transcript afterwards, as conversation.item.retrieve shows upstream.
    client.send({ type: 'conversation.item.retrieve', item_id: committed.item_id });
    const item = itemOf(await client.next('conversation.item.retrieved'));
    expect(item.content[0]).toMatchObject({ type: 'input_audio', transcript: '[speech 4.00 s]' });
    client.send({ type: 'response.create' });
    expect(replyOf(responseOf(await client.next('response.done')))).toBe(replyToAudio(4000));
  });

  it('sends no transcription events when transcription is off (the default, or null)', async () => {
    const client = await session(await engine());
    await configure(client, { turn_detection: null, transcription: { model: 'whisper-1' } });
    await configure(client, { transcription: null });
    appendAudio(client, speechBurst(500));
    client.send({ type: 'input_audio_buffer.commit' });
    await client.next('conversation.item.done');
    client.send({ type: 'input_audio_buffer.clear' });
    await client.next('input_audio_buffer.cleared');
    expect(client.received.some((e) => e.type.includes('input_audio_transcription'))).toBe(false);
  });

  it('validates the GA transcription object', async () => {
    const client = await session(await engine());
    const cases: [unknown, string, string][] = [
      [{ model: 'whisper-2' }, 'invalid_value', 'session.audio.input.transcription.model'],
      [{ model: 'whisper-1', bogus: true }, 'unknown_parameter', 'session.audio.input.transcription.bogus'],
      [{ model: 'whisper-1', language: 5 }, 'invalid_type', 'session.audio.input.transcription.language'],
      ['whisper-1', 'invalid_type', 'session.audio.input.transcription'],
    ];
    for (const [transcription, code, param] of cases) {
      client.send({
        type: 'session.update',
        session: { type: 'realtime', audio: { input: { transcription } } },
      });
      expect((await client.next()).error, param).toMatchObject({ code, param });
    }
  });
});
