/**
 * The baseline: what people build first, a single-process relay in the style of OpenAI's Realtime relay
 * sample. One `ws` server; for every client socket one provider socket (GA shape, `?model=…`, Bearer key);
 * every message is parsed with JSON.parse and rebuilt with JSON.stringify on its way through, the way the
 * sample relays events. It speaks the seed protocol to clients, the same messages as the gateway, so the
 * load generator drives both identically. Deliberately plain: no batching, no pass-through tricks, no
 * crippling either.
 *
 * Environment: RTV_BENCH_RELAY_PORT, RTV_BENCH_PROVIDER_URL (ws://…/v1/realtime),
 * OPENAI_API_KEY, OPENAI_REALTIME_MODEL. `GET /readyz` answers with the open client and provider sockets
 * and, like the services' default metrics, GC time and event-loop delay (instrumentation, not relaying).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.RTV_BENCH_RELAY_PORT ?? 8081);
const providerUrl = process.env.RTV_BENCH_PROVIDER_URL ?? 'wss://api.openai.com/v1/realtime';
const apiKey = process.env.OPENAI_API_KEY ?? '';
const model = process.env.OPENAI_REALTIME_MODEL || 'gpt-realtime';
const SEED_PATH = /^\/api\/v1\/streaming\/realtime(\/[^/?]+)?(\?|$)/;

/** The seed's default session, as the gateway's worker configures it on the provider. */
const INITIAL_SESSION = {
  type: 'realtime',
  instructions: 'Respond in the language with the BCP 47 tag "en" unless the user asks otherwise.',
  output_modalities: ['audio'],
  max_output_tokens: 4096,
  audio: {
    input: {
      format: { type: 'audio/pcm', rate: 24000 },
      turn_detection: {
        type: 'server_vad',
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
        create_response: true,
        interrupt_response: true,
      },
    },
    output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
  },
};

let clients = 0;
let upstreams = 0;

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const gcSeconds: Record<string, number> = { major: 0, minor: 0, incremental: 0, weakcb: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[(entry as unknown as { detail: { kind: number } }).detail.kind] ?? 'weakcb';
    gcSeconds[kind] = (gcSeconds[kind] ?? 0) + entry.duration / 1000;
  }
}).observe({ entryTypes: ['gc'] });
// Reset on every read, as prom-client does for the services' nodejs_eventloop_lag_* gauges.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

const http = createServer((req, res) => {
  if (req.url === '/readyz') {
    const loopLag = { maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6 };
    loopDelay.reset();
    const body = JSON.stringify({ clients, upstreams, gcSeconds, loopLag });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true });

http.on('upgrade', (req, socket, head) => {
  if (!SEED_PATH.test(req.url ?? '')) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => relay(ws));
});

function relay(client: WebSocket): void {
  clients++;
  const provider = new WebSocket(`${providerUrl}?model=${encodeURIComponent(model)}`, {
    headers: { Authorization: `Bearer ${apiKey}` },
  });
  // Client messages that arrive before the provider socket is open wait here, as in the sample.
  const queue: string[] = [];
  let pendingUpdates = 0;
  let providerOpened = false;
  let voice = 'alloy';
  let language = 'en';

  const toProvider = (event: Record<string, unknown>) => {
    const text = JSON.stringify(event);
    if (provider.readyState === WebSocket.OPEN) provider.send(text);
    else queue.push(text);
  };
  const toClient = (event: Record<string, unknown>) => {
    if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify(event));
  };
  const clientError = (code: string, message: string) =>
    toClient({ type: 'error', error: { code, message } });

  provider.on('open', () => {
    providerOpened = true;
    upstreams++;
    provider.send(JSON.stringify({ type: 'session.update', session: INITIAL_SESSION }));
    for (const text of queue.splice(0)) provider.send(text);
  });

  client.on('message', (data: RawData) => {
    let event: { type?: string; [key: string]: unknown };
    try {
      event = JSON.parse(data.toString());
    } catch {
      clientError('invalid_json', 'The message is not valid JSON');
      return;
    }
    switch (event.type) {
      case 'conversation.item.input': {
        const input = event.conversation_item_input as { type?: string; audio?: string; text?: string };
        if (input?.type === 'input_audio_buffer') {
          toProvider({ type: 'input_audio_buffer.append', audio: input.audio });
        } else if (input?.type === 'input_text') {
          toProvider({
            type: 'conversation.item.create',
            item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: input.text }] },
          });
          toProvider({ type: 'response.create' });
        } else {
          clientError(
            'invalid_message',
            'conversation_item_input.type must be input_audio_buffer or input_text',
          );
        }
        return;
      }
      case 'session.update': {
        const update = (event.session_update ?? {}) as { voice?: string; language?: string };
        voice = update.voice ?? voice;
        language = update.language ?? language;
        pendingUpdates++;
        toProvider({
          type: 'session.update',
          session: {
            ...INITIAL_SESSION,
            audio: { ...INITIAL_SESSION.audio, output: { ...INITIAL_SESSION.audio.output, voice } },
          },
        });
        return;
      }
      case 'ping':
        toClient({ type: 'pong', timestamp: (event.ping as { timestamp?: number })?.timestamp });
        return;
      default:
        clientError('unknown_message_type', `Unknown message type: ${String(event.type)}`);
    }
  });

  provider.on('message', (data: RawData) => {
    const event = JSON.parse(data.toString()) as { type: string; [key: string]: unknown };
    const timestamp = Date.now() / 1000;
    switch (event.type) {
      case 'response.output_audio.delta':
        toClient({ type: 'response.audio', response: { audio: event.delta, timestamp } });
        return;
      case 'response.output_audio_transcript.delta':
      case 'response.output_text.delta':
        toClient({ type: 'response.delta', response: { delta: { content: event.delta }, timestamp } });
        return;
      case 'response.done': {
        const usage = (event.response as { usage?: { input_tokens?: number; output_tokens?: number } })
          ?.usage;
        toClient({
          type: 'response.done',
          response: {
            usage: { input_tokens: usage?.input_tokens ?? 0, output_tokens: usage?.output_tokens ?? 0 },
            timestamp,
          },
        });
        return;
      }
      case 'session.updated':
        // The relay's own initial update is not the client's business; answers to the client's are.
        if (pendingUpdates > 0) {
          pendingUpdates--;
          toClient({ type: 'session.update', session: { id: 'session', voice, language } });
        }
        return;
      case 'error':
        clientError('upstream_error', 'The speech provider reported an error');
        return;
      default:
        return;
    }
  });

  client.on('close', () => {
    clients--;
    provider.close();
  });
  provider.on('close', () => {
    if (providerOpened) upstreams--;
    client.close(1011, 'upstream closed');
  });
  client.on('error', () => {});
  provider.on('error', () => client.close(1011, 'upstream unavailable'));
}

http.listen(port, '127.0.0.1', () => {
  process.stdout.write(`baseline relay listening on ${(http.address() as AddressInfo).port}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const ws of wss.clients) ws.terminate();
    http.close(() => process.exit(0));
    http.closeAllConnections();
  });
}
