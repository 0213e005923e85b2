// The metrics of a running stack (gateway, session worker, status API, local engine, real Redis) while a
// scripted session runs: every counter that the realtime path already drives moves by exactly what the
// session did, and every service's real /metrics output passes `promtool check metrics`.
import { WsTestClient, waitFor } from '@rtv/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Stack, startStack } from '../e2e/helpers/stack.js';
import { lintProblems, promtool, type Sample, scrape, scrapeText, total } from './helpers/prom.js';

type Msg = { type: string; [k: string]: unknown };

/** A raw client: keeps every frame as received, so byte counts can be compared exactly. */
class RawClient {
  readonly frames: string[] = [];
  readonly sentBytes: number[] = [];
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(data.toString()));
  }

  static open(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new RawClient(ws)));
      ws.once('error', reject);
    });
  }

  send(text: string): void {
    this.sentBytes.push(Buffer.byteLength(text));
    this.ws.send(text);
  }

  messages(): Msg[] {
    return this.frames.map((f) => JSON.parse(f) as Msg);
  }

  waitFor(type: string, timeoutMs = 10_000): Promise<Msg> {
    return waitFor(() => this.messages().find((m) => m.type === type), { timeoutMs, message: `a ${type}` });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}

describe('metrics of a running stack', () => {
  let stack: Stack;
  const gatewayMetrics = () => scrape(`http://127.0.0.1:${stack.gateways[0]!.adminPort}/metrics`);
  const workerMetrics = () => scrape(`http://127.0.0.1:${stack.workers[0]!.adminPort}/metrics`);

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('moves every wired counter by exactly what a scripted session did', async () => {
    const gw0 = await gatewayMetrics();
    const wk0 = await workerMetrics();
    const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);

    // A refused upgrade first: it never becomes a connection.
    await expect(WsTestClient.connect(stack.wsUrl('bad user!'))).rejects.toThrow(/HTTP 400/);

    const client = await RawClient.open(stack.wsUrl('metrics_user'));
    await client.waitFor('session.created');
    client.send(JSON.stringify({ type: 'session.update', session_update: { voice: 'alloy' } }));
    await client.waitFor('session.update');
    client.send(
      JSON.stringify({
        type: 'conversation.item.input',
        conversation_item_input: { type: 'input_text', text: 'Hello, how are you?' },
      }),
    );
    const done = (await client.waitFor('response.done')) as {
      response: { usage: { input_tokens: number; output_tokens: number } };
    } & Msg;
    client.send(JSON.stringify({ type: 'ping', ping: { timestamp: 1234.5 } }));
    await client.waitFor('pong');
    client.send('this is not json');
    await client.waitFor('error');

    // While the session is open: one connection on the gateway, one session on the worker and, from
    // Redis heartbeats, one connection in the cluster view.
    const open = await gatewayMetrics();
    expect(delta(gw0, open, 'rtv_gateway_connections_active')).toBe(1);
    expect(delta(wk0, await workerMetrics(), 'rtv_worker_sessions_active')).toBe(1);
    await waitFor(
      async () => total(await scrape(`${stack.statusUrl}/metrics`), 'rtv_cluster_connections') === 1,
      { message: 'the status API counts the connection', timeoutMs: 10_000 },
    );

    await client.close();
    const wk1 = await waitFor(
      async () => {
        const m = await workerMetrics();
        return delta(wk0, m, 'rtv_worker_sessions_ended_total') === 1 ? m : undefined;
      },
      { message: 'the worker ended the session' },
    );
    const gw1 = await gatewayMetrics();

    // Gateway: the client edge.
    expect(delta(gw0, gw1, 'rtv_gateway_upgrades_rejected_total', { reason: 'invalid_user_id' })).toBe(1);
    expect(delta(gw0, gw1, 'rtv_gateway_connections_total', { route: 'anonymous' })).toBe(1);
    expect(delta(gw0, gw1, 'rtv_gateway_connections_active')).toBe(0);
    for (const type of ['session.update', 'conversation.item.input', 'ping', 'invalid']) {
      expect(delta(gw0, gw1, 'rtv_gateway_frames_received_total', { type }), type).toBe(1);
    }
    expect(delta(gw0, gw1, 'rtv_gateway_frames_received_total')).toBe(4);
    expect(delta(gw0, gw1, 'rtv_gateway_received_bytes_total')).toBe(
      client.sentBytes.reduce((a, b) => a + b, 0),
    );
    expect(delta(gw0, gw1, 'rtv_gateway_frames_sent_total')).toBe(client.frames.length);
    expect(delta(gw0, gw1, 'rtv_gateway_sent_bytes_total')).toBe(
      client.frames.reduce((n, f) => n + Buffer.byteLength(f), 0),
    );
    expect(delta(gw0, gw1, 'rtv_gateway_client_errors_total', { code: 'invalid_json' })).toBe(1);
    expect(delta(gw0, gw1, 'rtv_gateway_disconnects_total', { code: '1000' })).toBe(1);
    expect(delta(gw0, gw1, 'rtv_gateway_session_bind_duration_seconds_count')).toBe(1);

    // Worker: the provider side. ping and the invalid frame never leave the gateway.
    expect(delta(wk0, wk1, 'rtv_worker_sessions_started_total', { kind: 'new' })).toBe(1);
    expect(delta(wk0, wk1, 'rtv_worker_sessions_active')).toBe(0);
    expect(delta(wk0, wk1, 'rtv_worker_frames_to_provider_total', { type: 'session.update' })).toBe(1);
    expect(delta(wk0, wk1, 'rtv_worker_frames_to_provider_total', { type: 'conversation.item.input' })).toBe(
      1,
    );
    expect(delta(wk0, wk1, 'rtv_worker_frames_to_provider_total')).toBe(2);
    // Everything the client got came from the worker except the gateway's own session.created, pong and error.
    expect(delta(wk0, wk1, 'rtv_worker_frames_to_client_total')).toBe(client.frames.length - 3);
    expect(delta(wk0, wk1, 'rtv_worker_turns_total', { status: 'completed' })).toBe(1);
    expect(delta(wk0, wk1, 'rtv_worker_time_to_first_audio_seconds_count')).toBe(1);
    const { input_tokens, output_tokens } = done.response.usage;
    expect(input_tokens).toBeGreaterThan(0);
    expect(delta(wk0, wk1, 'rtv_worker_tokens_total', { model: 'gpt-realtime', direction: 'input' })).toBe(
      input_tokens,
    );
    expect(delta(wk0, wk1, 'rtv_worker_tokens_total', { model: 'gpt-realtime', direction: 'output' })).toBe(
      output_tokens,
    );
  });

  it('exposes /metrics that promtool accepts, on every service', async () => {
    const targets = {
      gateway: `http://127.0.0.1:${stack.gateways[0]!.adminPort}/metrics`,
      'session-worker': `http://127.0.0.1:${stack.workers[0]!.adminPort}/metrics`,
      'status-api': `${stack.statusUrl}/metrics`,
    };
    for (const [service, url] of Object.entries(targets)) {
      const text = await scrapeText(url);
      expect(text, service).toContain(`rtv_service="${service}"`);
      // Every service says which build runs (the dashboard's deploy annotations read it).
      expect(text, service).toMatch(
        new RegExp(
          `^rtv_build_info\\{version="[^"]+",node_version="v[0-9.]+",rtv_service="${service}"\\} 1$`,
          'm',
        ),
      );
      const res = promtool(['check', 'metrics'], text);
      // Exit 1 would be a parse error; 3 means lint findings, of which only prom-client's own may remain.
      expect([0, 3], `${service}: ${res.output}`).toContain(res.code);
      expect(lintProblems(res.output), service).toEqual([]);
    }
  });

  it('has a promtool lint check that catches a badly named metric', () => {
    const res = promtool(
      ['check', 'metrics'],
      '# HELP rtv_bad_requests A counter without _total\n# TYPE rtv_bad_requests counter\nrtv_bad_requests 1\n',
    );
    expect(lintProblems(res.output).join('\n')).toContain('rtv_bad_requests');
  });
});
