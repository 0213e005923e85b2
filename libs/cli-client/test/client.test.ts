import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeSyntheticSpeech, readWav, waitFor, writeWav } from '@rtv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ClientOptions, parseClientArgs, runClient } from '../src/index.js';
import { AUDIO_CHUNK_BYTES, BASE_PATH, type Peer, startPeer } from './peer.js';

let peer: Peer;
let dir: string;

beforeEach(async () => {
  peer = await startPeer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'rtv-client-'));
});
afterEach(async () => {
  await peer.close();
  rmSync(dir, { recursive: true, force: true });
});

class Capture {
  text = '';
  write(chunk: string) {
    this.text += chunk;
  }
}

async function run(argv: string[], signal?: AbortSignal) {
  const options = parseClientArgs(argv) as ClientOptions;
  const out = new Capture();
  const err = new Capture();
  const code = await runClient(options, { out, err, color: false, live: false, signal });
  return { code, out: out.text, err: err.text };
}

const sentTypes = () => peer.received.map((r) => r.message.type);
const inputs = () =>
  peer.received
    .map((r) => r.message.conversation_item_input as { type: string; text?: string } | undefined)
    .filter((i) => i !== undefined);

describe('runClient with text', () => {
  it('sends input_text, prints the reply joined into a line, and exits 0 after response.done', async () => {
    const { code, out, err } = await run(['--url', peer.url(), '--text', 'Hello, how are you?']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(inputs()).toEqual([{ type: 'input_text', text: 'Hello, how are you?' }]);
    expect(out).toContain('● session sess_test');
    expect(out).toContain('> Hello, how are you?\n');
    expect(out).toContain('< Hello back (Hello, how are you?) \n');
    expect(out).toContain(`✓ done 0.20 s audio (${2 * AUDIO_CHUNK_BYTES} bytes), 7 in / 3 out tokens`);
  });

  it('sends session.update first when voice, language or instructions are given', async () => {
    const { code, out } = await run([
      '--url',
      peer.url(),
      '--voice',
      'alloy',
      '--language',
      'en',
      '--text',
      'hi',
    ]);
    expect(code).toBe(0);
    expect(peer.received[0]?.message).toEqual({
      type: 'session.update',
      session_update: { voice: 'alloy', language: 'en' },
    });
    expect(sentTypes()).toEqual(['session.update', 'conversation.item.input']);
    expect(out).toContain('● session updated (voice=alloy, language=en)');
  });

  it('sends several inputs in order, each after the previous reply', async () => {
    const { code, out } = await run(['--url', peer.url(), '--text', 'one', '--text', 'two']);
    expect(code).toBe(0);
    expect(inputs().map((i) => i.text)).toEqual(['one', 'two']);
    expect(out.match(/✓ done/g)).toHaveLength(2);
    expect(out.indexOf('(one)')).toBeLessThan(out.indexOf('> two'));
  });

  it('writes every audio chunk to --out as a 24 kHz mono WAV', async () => {
    const file = path.join(dir, 'reply.wav');
    const { code } = await run(['--url', peer.url(), '--text', 'a', '--text', 'b', '--out', file]);
    expect(code).toBe(0);
    const wav = readWav(readFileSync(file));
    expect(wav).toMatchObject({ sampleRate: 24000, channels: 1 });
    expect(wav.samples.length).toBe((4 * AUDIO_CHUNK_BYTES) / 2);
  });

  it('prints raw events as JSON lines with --json', async () => {
    const { code, out } = await run(['--url', peer.url(), '--text', 'hi', '--json']);
    expect(code).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toEqual({ type: 'session.created', session: { id: 'sess_test' } });
    expect(events.at(-1).type).toBe('response.done');
  });
});

describe('runClient with audio', () => {
  function wavFile(name: string, sampleRate: number, channels: number, ms: number): string {
    const mono = makeSyntheticSpeech(ms).samples;
    // Spread the 24 kHz speech over the wanted rate by repeating/dropping samples; the client resamples back.
    const frames = Math.round((ms * sampleRate) / 1000);
    const samples = new Int16Array(frames * channels);
    for (let f = 0; f < frames; f++) {
      const s = mono[Math.min(mono.length - 1, Math.floor((f * 24000) / sampleRate))]!;
      for (let c = 0; c < channels; c++) samples[f * channels + c] = s;
    }
    const file = path.join(dir, name);
    writeFileSync(file, writeWav({ sampleRate, channels, samples }));
    return file;
  }

  it('sends 20 ms input_audio_buffer frames then 1 s of silence, and waits for the VAD reply (--fast)', async () => {
    const file = wavFile('speech.wav', 24000, 1, 400);
    const { code, out } = await run(['--url', peer.url(), '--wav', file, '--fast']);
    expect(code).toBe(0);
    // The reply comes after 500 ms of silence; the rest of the second of silence is still in flight.
    await waitFor(() => peer.audioFrameBytes.length === 70);
    expect(peer.audioFrameBytes).toEqual(Array(20 + 50).fill(960));
    expect(out).toContain('0.40 s in 70 frames incl. 1 s silence, fast');
    expect(out).toContain('< heard you');
    // The transcript of the speech, once, whole (its pieces would break the reply's line).
    expect(out).toContain('> you said: hello there\n');
    expect(out.match(/you said/g)).toHaveLength(1);
  });

  it('mixes a 48 kHz stereo file to 24 kHz mono', async () => {
    const file = wavFile('stereo48k.wav', 48000, 2, 300);
    const { code, out } = await run(['--url', peer.url(), '--wav', file, '--fast']);
    expect(code).toBe(0);
    await waitFor(() => peer.audioFrameBytes.length === 65);
    expect(peer.audioFrameBytes).toEqual(Array(15 + 50).fill(960));
    expect(out).toContain('from 48000 Hz × 2 ch');
  });

  it('paces frames in real time without --fast', async () => {
    const file = wavFile('short.wav', 24000, 1, 100);
    const { code, out } = await run(['--url', peer.url(), '--wav', file]);
    expect(code).toBe(0);
    await waitFor(() => peer.audioFrameBytes.length === 55);
    expect(peer.audioFrameBytes).toEqual(Array(5 + 50).fill(960));
    expect(out).toContain('real time');
  });

  it('rejects a WAV that is not PCM16 with exit code 2 and the file name', async () => {
    const file = path.join(dir, 'float.wav');
    const wav = writeWav({ sampleRate: 24000, channels: 1, samples: new Int16Array(10) });
    wav.writeUInt16LE(3, 20); // format tag: IEEE float
    writeFileSync(file, wav);
    const { code, err } = await run(['--url', peer.url(), '--wav', file]);
    expect(code).toBe(2);
    expect(err).toContain(`${file}: unsupported WAV encoding IEEE float`);
  });
});

describe('runClient failures', () => {
  it('exits 1 and prints the server error', async () => {
    const { code, err } = await run(['--url', peer.url(), '--text', 'fail']);
    expect(code).toBe(1);
    expect(err).toContain('✗ error upstream_error: provider said no');
  });

  it('exits 1 when a reply ends with status failed', async () => {
    const { code, err } = await run(['--url', peer.url(), '--text', 'break down']);
    expect(code).toBe(1);
    expect(err).toContain('the reply failed (response.done status failed)');
  });

  it('exits 1 on a reply without text or audio with --require-reply, and 0 without the flag', async () => {
    const strict = await run(['--url', peer.url(), '--require-reply', '--text', 'say nothing']);
    expect(strict.code).toBe(1);
    expect(strict.err).toContain('the reply had neither text nor audio (--require-reply)');
    expect((await run(['--url', peer.url(), '--text', 'say nothing'])).code).toBe(0);
    expect((await run(['--url', peer.url(), '--require-reply', '--text', 'hi'])).code).toBe(0);
  });

  it('exits 1 on timeout, naming what it waited for', async () => {
    const { code, err } = await run(['--url', peer.url(), '--text', 'ignore me', '--timeout', '0.3']);
    expect(code).toBe(1);
    expect(err).toContain('no response.done within 0.3 s');
  });

  it('exits 1 when the server closes mid-turn', async () => {
    const { code, err } = await run(['--url', peer.url(), '--text', 'hang up']);
    expect(code).toBe(1);
    expect(err).toContain('connection closed by the server (1011 worker lost)');
  });

  it('exits 1 with a hint when nothing listens', async () => {
    await peer.close();
    const { code, err } = await run(['--url', peer.url(), '--text', 'hi']);
    expect(code).toBe(1);
    expect(err).toMatch(
      /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/.*: ECONNREFUSED \(is `npm start` running\?\)/,
    );
  });

  it('exits 130 when interrupted', async () => {
    const controller = new AbortController();
    const pending = run(['--url', peer.url(), '--text', 'ignore me'], controller.signal);
    setTimeout(() => controller.abort(), 100);
    const { code, err } = await pending;
    expect(code).toBe(130);
    expect(err).toContain('interrupted');
  });
});

describe('authentication', () => {
  it('sends the bearer token to the authenticated route', async () => {
    const url = peer.url(BASE_PATH);
    const { code } = await run(['--url', url, '--token', 'good-token', '--text', 'hi']);
    expect(code).toBe(0);
    expect(peer.received[0]).toMatchObject({ path: BASE_PATH, authorization: 'Bearer good-token' });
  });

  it('reports a refused upgrade with its HTTP status', async () => {
    const { code, err } = await run(['--url', peer.url(BASE_PATH), '--token', 'bad', '--text', 'hi']);
    expect(code).toBe(1);
    expect(err).toContain('refused the WebSocket upgrade: HTTP 401 (check --token)');
  });
});
