// A scripted peer speaking the seed protocol on port 0, for the client tests. It answers text with
// word-by-word deltas, two 100 ms audio chunks and response.done, and answers audio once it has heard
// speech followed by 500 ms of silence (a stand-in for server VAD), after the transcript of that speech
// ("hello there", in two pieces and whole). A text that names a tool of the session (its exact name) gets
// a reply that only calls it (twice, when the text says "twice"), with `{"q": <the words after the name>}`;
// a function_call_output gets the reply "Tool said <output>" unless it has `respond: false`. "say nothing"
// gets an empty reply (response.done alone), "break down" a response.done with status failed.
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
    const reply = (words: string[], inputTokenDetails?: Record<string, number>) => {
      for (const w of words)
        send({ type: 'response.delta', response: { delta: { content: `${w} ` }, timestamp: now() } });
      for (let i = 0; i < 2; i++)
        send({ type: 'response.audio', response: { audio: chunk(i), timestamp: now() } });
      send({
        type: 'response.done',
        response: {
          usage: {
            input_tokens: 7,
            output_tokens: words.length,
            ...(inputTokenDetails ? { input_token_details: inputTokenDetails } : {}),
          },
          timestamp: now(),
        },
      });
    };
    let heardSpeech = false;
    let silentFrames = 0;
    let tools: string[] = [];
    let calls = 0;
    const callTools = (text: string): boolean => {
      const words = text.split(/\s+/);
      const named = tools.filter((name) => words.includes(name));
      if (named.length === 0) return false;
      for (const name of named) {
        const q = words.slice(words.indexOf(name) + 1).join(' ');
        const call = {
          type: 'response.function_call',
          response: { call_id: `call_${++calls}`, name, arguments: JSON.stringify({ q }), timestamp: now() },
        };
        send(call);
        if (words.includes('twice')) send(call);
      }
      send({
        type: 'response.done',
        response: { usage: { input_tokens: 3, output_tokens: 1 }, timestamp: now() },
      });
      return true;
    };
    send({ type: 'session.created', session: { id: 'sess_test' } });
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, message });
      if (message.type === 'session.update') {
        const declared = message.session_update.tools as Array<{ name: string }> | undefined;
        if (declared) tools = declared.map((t) => t.name);
        send({ type: 'session.update', session: { id: 'sess_test', ...message.session_update } });
        return;
      }
      const input = message.conversation_item_input;
      if (input?.type === 'function_call_output') {
        if (input.respond !== false) reply(['Tool', 'said', input.output], { cached_tokens: 5 });
        return;
      }
      if (input?.type === 'input_text' && callTools(input.text)) return;
      if (input?.type === 'input_text') {
        if (input.text === 'fail')
          send({ type: 'error', error: { code: 'upstream_error', message: 'provider said no' } });
        else if (input.text === 'hang up') ws.close(1011, 'worker lost');
        else if (input.text === 'say nothing')
          send({
            type: 'response.done',
            response: { usage: { input_tokens: 2, output_tokens: 0 }, timestamp: now() },
          });
        else if (input.text === 'break down')
          send({
            type: 'response.done',
            response: { usage: { input_tokens: 2, output_tokens: 0 }, status: 'failed', timestamp: now() },
          });
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
          const piece = (text: string, final: boolean) =>
            send({
              type: 'conversation.item.transcript',
              conversation_item_transcript: { item_id: 'item_1', role: 'user', text, final },
              timestamp: now(),
            });
          piece('hello', false);
          piece(' there', false);
          piece('hello there', true);
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
