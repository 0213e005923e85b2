// A scripted peer speaking the seed protocol on port 0, for the client tests. It answers text with
// word-by-word deltas, two 100 ms audio chunks and response.done, and answers audio once it has heard
// speech followed by 500 ms of silence (a stand-in for server VAD).
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export const BASE_PATH = '/api/v1/streaming/realtime';
export const AUDIO_CHUNK_BYTES = 4800;

export interface Peer {
  url(path?: string): string;
  /** Every JSON frame received, in order, with the connection's upgrade details. */
  received: { path: string; authorization?: string; message: Record<string, unknown> }[];
  /** Decoded sizes of the input_audio_buffer frames received. */
  audioFrameBytes: number[];
  close(): Promise<void>;
}

function chunk(i: number): string {
  const pcm = Buffer.alloc(AUDIO_CHUNK_BYTES);
  for (let s = 0; s < AUDIO_CHUNK_BYTES / 2; s++)
    pcm.writeInt16LE(Math.round(8000 * Math.sin((s + i) / 5)), s * 2);
  return pcm.toString('base64');
}

export async function startPeer(): Promise<Peer> {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    verifyClient: ({ req }, done) => {
      // The authenticated route needs a bearer token; user routes do not.
      if (req.url === BASE_PATH && req.headers.authorization !== 'Bearer good-token') done(false, 401);
      else done(true);
    },
  });
  const received: Peer['received'] = [];
  const audioFrameBytes: number[] = [];
  server.on('connection', (ws, req) => {
    const now = () => Date.now() / 1000;
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    const reply = (words: string[]) => {
      for (const w of words)
        send({ type: 'response.delta', response: { delta: { content: `${w} ` }, timestamp: now() } });
      for (let i = 0; i < 2; i++)
        send({ type: 'response.audio', response: { audio: chunk(i), timestamp: now() } });
      send({
        type: 'response.done',
        response: { usage: { input_tokens: 7, output_tokens: words.length }, timestamp: now() },
      });
    };
    let heardSpeech = false;
    let silentFrames = 0;
    send({ type: 'session.created', session: { id: 'sess_test' } });
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, message });
      if (message.type === 'session.update') {
        send({ type: 'session.update', session: { id: 'sess_test', ...message.session_update } });
        return;
      }
      const input = message.conversation_item_input;
      if (input?.type === 'input_text') {
        if (input.text === 'fail')
          send({ type: 'error', error: { code: 'upstream_error', message: 'provider said no' } });
        else if (input.text === 'hang up') ws.close(1011, 'worker lost');
        else if (input.text !== 'ignore me') reply(['Hello', 'back', `(${input.text})`]);
      }
      if (input?.type === 'input_audio_buffer') {
        const pcm = Buffer.from(input.audio, 'base64');
        audioFrameBytes.push(pcm.length);
        if (pcm.some((b) => b !== 0)) {
          heardSpeech = true;
          silentFrames = 0;
        } else if (heardSpeech && ++silentFrames === 25) {
          heardSpeech = false;
          reply(['heard', 'you']);
        }
      }
    });
  });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = `${BASE_PATH}/tester`) => `ws://127.0.0.1:${port}${path}`,
    received,
    audioFrameBytes,
    close: () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
