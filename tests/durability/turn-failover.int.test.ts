// A worker killed with SIGKILL while the user is still speaking: the audio of the turn in progress lived only in
// the dead owner's provider session, so the owner never acknowledged it; the gateway replays it to the next owner,
// whose fresh provider session hears the whole utterance and answers it once.
import { createKeys } from '@rtv/bus';
import { parseSpeechTranscript } from '@rtv/local-engine';
import { makeSyntheticSpeech, pcmFrames, type SpawnedService, WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ENV } from '../../services/gateway/src/config.js';
import { WORKER_ENV } from '../../services/session-worker/src/config.js';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { audioMessage, contiguous, noticeCodes, recordUpstream, spawnWorker } from './helpers.js';

type Msg = { type: string; [k: string]: unknown };
type Transcript = { conversation_item_transcript: { text: string; final: boolean } };

const FRAME_MS = 20;
const SPEECH_MS = 4000;
/** The owner dies this far into the utterance, long before the engine's VAD could end the turn. */
const KILL_AT_MS = 2000;

/**
 * 20 ms frames of a synthetic utterance the engine's VAD takes for speech, each carrying its number in its first
 * bytes (as `numberedFrame` does) so `recordUpstream` can tell which frames reached which provider session.
 */
function numberedSpeech(ms: number): string[] {
  return pcmFrames(makeSyntheticSpeech(ms).pcm, FRAME_MS).map((frame, i) => {
    const buf = Buffer.from(frame);
    buf.writeUInt32LE(i + 1, 0);
    buf.writeUInt32LE(0x52545631, 4);
    return buf.toString('base64');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const finalTranscripts = (ws: WsTestClient) =>
  (ws.all() as Msg[]).filter(
    (m) =>
      m.type === 'conversation.item.transcript' &&
      (m as unknown as Transcript).conversation_item_transcript.final,
  ) as unknown as Transcript[];
const ofType = (ws: WsTestClient, type: string) => (ws.all() as Msg[]).filter((m) => m.type === type);

describe('worker failover mid-utterance', () => {
  let stack: Stack;
  const workers = new Map<string, SpawnedService>();
  beforeAll(async () => {
    stack = await startStack({ workers: 0, engine: { mode: 'speech' } });
    workers.set('wk-a', await spawnWorker(stack, 'wk-a'));
    workers.set('wk-b', await spawnWorker(stack, 'wk-b'));
  }, 60_000);
  afterAll(async () => {
    for (const w of workers.values()) await w.stop('SIGKILL');
    await stack?.stop();
  });

  it("the gateway's replay ring holds more than a worker holds back of a turn (defaults)", () => {
    expect(GATEWAY_ENV.RTV_REPLAY_MAX_BYTES.default).toBeGreaterThan(
      WORKER_ENV.RTV_UNCOMMITTED_TURN_MAX_BYTES.default,
    );
  });

  it('SIGKILL of the owner mid-utterance: the new provider session hears all of it, the client one answer', async () => {
    const upstream = recordUpstream(stack.engine.events);
    const ws = await WsTestClient.connect(stack.wsUrl('turn_failover_user'));
    const created = await ws.nextOfType<{ session: { id: string } }>('session.created');
    const key = createKeys(stack.redis.prefix).session(created.session.id);
    const owner = await waitFor(() => stack.redis.redis.hget(key, 'owner'), { message: 'session bound' });
    const speech = numberedSpeech(SPEECH_MS);
    // 20 ms frames in real time; the owner dies halfway through, the user keeps talking, then 1 s of silence
    // (server VAD ends the turn after 500 ms of it).
    for (const [i, frame] of speech.entries()) {
      ws.send(audioMessage(frame));
      if ((i + 1) * FRAME_MS === KILL_AT_MS) workers.get(owner)!.child.kill('SIGKILL');
      await sleep(FRAME_MS);
    }
    const silence = Buffer.alloc(48 * FRAME_MS).toString('base64');
    for (let i = 0; i < 1000 / FRAME_MS; i++) {
      ws.send(audioMessage(silence));
      await sleep(FRAME_MS);
    }
    const final = await waitFor(() => finalTranscripts(ws)[0], {
      timeoutMs: 20_000,
      message: 'the final transcript of the utterance',
    });
    await waitFor(() => ofType(ws, 'response.done').length > 0, { timeoutMs: 20_000, message: 'the answer' });
    expect(await stack.redis.redis.hget(key, 'owner')).not.toBe(owner);
    expect(noticeCodes(ws)).toContain('session_recovered');

    // Upstream: the dead owner's provider session got the first part; the new one got every frame of the
    // utterance, in order, once: the gateway still held them, unacknowledged.
    const sessions = [...upstream.values()];
    expect(sessions).toHaveLength(2);
    const [before, after] = sessions as [number[], number[]];
    expect(before[0]).toBe(1);
    expect(contiguous(before)).toBe(true);
    expect(before.length).toBeLessThan(speech.length);
    expect(after).toEqual(speech.map((_, i) => i + 1));
    // The engine states how much audio the committed turn held: the whole utterance (plus VAD padding).
    const heardMs = parseSpeechTranscript(final.conversation_item_transcript.text);
    expect(heardMs).toBeGreaterThanOrEqual(SPEECH_MS - 100);

    // Exactly once toward the client: the dead owner never committed the turn, so it is answered once.
    await sleep(1000);
    expect(finalTranscripts(ws)).toHaveLength(1);
    expect(ofType(ws, 'response.done')).toHaveLength(1);
    await ws.close();
    workers.delete(owner);
  }, 60_000);
});
