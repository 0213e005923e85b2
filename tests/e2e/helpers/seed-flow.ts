// The spec's own client flows, checked message for message: the seed's JavaScript example (session.update from
// onopen, a text turn) and a spoken turn (synthetic speech as audio messages, then silence). Shared by the
// single-Redis suite and the Redis Cluster suite, so both topologies are held to the same contract.
import { validateServerMessage } from '@rtv/protocol';
import { makeSyntheticSpeech, pcmFrames, type WsTestClient } from '@rtv/testing';
import { expect } from 'vitest';

type Msg = { type: string; [k: string]: unknown };

/** 20 ms base64 frames of a synthetic utterance followed by silence, as seed audio messages. */
export function speechMessages(speechMs: number, silenceMs = 1000): object[] {
  const pcm = Buffer.concat([makeSyntheticSpeech(speechMs).pcm, Buffer.alloc(48 * silenceMs)]);
  return pcmFrames(pcm, 20).map((frame) => ({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_audio_buffer', audio: frame.toString('base64') },
  }));
}

/** Every message a client received must match the public protocol's response schemas. */
export function expectValidServerMessages(client: WsTestClient): void {
  for (const m of client.all()) {
    const res = validateServerMessage(m);
    expect(res.ok ? 'ok' : `${(m as Msg).type}: ${res.error.message}`).toBe('ok');
  }
}

/**
 * Runs the seed's JavaScript example on a socket that just opened for `user` (anonymous route): session.update
 * before any server message, session.created then the updated session, a text turn with text, at least a
 * quarter second of PCM16 audio and usage, every chunk before its response.done. Returns the session id.
 */
export async function runSeedJavaScriptExample(ws: WsTestClient, user: string): Promise<string> {
  // The seed sends session.update from onopen, before any server message.
  ws.send({ type: 'session.update', session_update: { voice: 'alloy', language: 'en' } });
  const created = await ws.nextOfType<{ session: { id: string; user_id: string } }>('session.created');
  expect(created.session.id).toMatch(/^sess_[0-9A-Za-z]{21}$/);
  // An anonymous caller acts as anon:<path user>, apart from any verified user of that name.
  expect(created.session.user_id).toBe(`anon:${user}`);
  const updated = await ws.nextOfType<{ session: { id: string; voice: string; language: string } }>(
    'session.update',
  );
  expect(updated.session).toMatchObject({ id: created.session.id, voice: 'alloy', language: 'en' });

  ws.send({
    type: 'conversation.item.input',
    conversation_item_input: { type: 'input_text', text: 'Hello, how are you?' },
  });
  const done = await ws.nextOfType<{
    response: { usage: { input_tokens: number; output_tokens: number } };
  }>('response.done', 10_000);
  expect(done.response.usage.input_tokens).toBeGreaterThan(0);
  expect(done.response.usage.output_tokens).toBeGreaterThan(0);
  const all = ws.all() as Msg[];
  const text = all
    .filter((m) => m.type === 'response.delta')
    .map((m) => (m.response as { delta: { content: string } }).delta.content)
    .join('');
  expect(text.length).toBeGreaterThan(0);
  const audio = all.filter((m) => m.type === 'response.audio');
  expect(audio.length).toBeGreaterThan(0);
  const audioBytes = audio.reduce(
    (n, m) => n + Buffer.from((m.response as { audio: string }).audio, 'base64').length,
    0,
  );
  // Real PCM16 at 24 kHz: at least a quarter second of reply.
  expect(audioBytes).toBeGreaterThan(24_000 * 2 * 0.25);
  // Ordering: every delta and audio chunk of the turn precedes its response.done.
  const doneIndex = all.findIndex((m) => m.type === 'response.done');
  expect(all.findLastIndex((m) => m.type === 'response.audio')).toBeLessThan(doneIndex);
  expectValidServerMessages(ws);
  return created.session.id;
}

/**
 * A spoken turn on a session already created: 1.2 s of speech as audio messages, then silence; the server
 * detects the speech, replies with audio and ends the turn with usage.
 */
export async function runSpokenTurn(ws: WsTestClient): Promise<void> {
  for (const m of speechMessages(1200)) ws.send(m);
  await ws.nextOfType('input_audio_buffer.speech_started', 10_000);
  await ws.nextOfType('input_audio_buffer.speech_stopped', 10_000);
  await ws.nextOfType('response.audio', 10_000);
  const done = await ws.nextOfType<{ response: { usage: { input_tokens: number } } }>(
    'response.done',
    10_000,
  );
  expect(done.response.usage.input_tokens).toBeGreaterThan(0);
  expectValidServerMessages(ws);
}
