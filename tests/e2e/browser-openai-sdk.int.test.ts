// The demo's OpenAI SDK mode (/openai) in headless Chromium against the real stack, set up as `npm start` sets
// it up (no token verifier, anonymous access on): OpenAI's Agents SDK (@openai/agents-realtime, bundled for
// the browser) connects to the gateway's /v1/realtime with the page's credential in its browser subprotocol,
// a typed greeting gets the local engine's reply as a transcript and as played audio, the SDK runs the page's
// get_time tool in the browser, the microphone (Chromium's fake device speaking a WAV) makes a spoken turn,
// and an OpenAI key as credential is refused. Needs Debian's `chromium` (.ci/run installs it).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@rtv/service-kit';
import { makeSpeechWav, REPO_ROOT, toMonoAt, writeWav } from '@rtv/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoAssets } from '../../services/demo-web/src/build.js';
import { type DemoServer, startDemoServer } from '../../services/demo-web/src/server.js';
import { type Stack, startStack } from './helpers/stack.js';

const CHROMIUM = process.env.RTV_CHROMIUM ?? '/usr/bin/chromium';
const GREETING_REPLY = 'Hello! How can I help you today?';

type WireEvent = { type: string; [k: string]: unknown };

/** Synthesized speech framed by silence, as a 48 kHz mono WAV (the rate Chromium's fake device runs at). */
async function speechWav(file: string): Promise<void> {
  const clip = await makeSpeechWav('Hello there. What is the weather like today?');
  const rate = clip.sampleRate;
  const samples = new Int16Array(Math.round(rate * 0.5) + clip.samples.length + rate * 3);
  samples.set(clip.samples, Math.round(rate * 0.5));
  const at48k = toMonoAt({ sampleRate: rate, channels: 1, samples }, 48_000);
  await writeFile(file, writeWav({ sampleRate: 48_000, channels: 1, samples: at48k }));
}

let stack: Stack;
let demo: DemoServer;
let context: BrowserContext;
let page: Page;
let tmp: string;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
/** Every WebSocket the page opened, with the frames it sent and received (parsed JSON). */
const sockets: Array<{ url: string; sent: WireEvent[]; received: WireEvent[] }> = [];
/** What the local engine received from the session worker, by provider connection. */
const engineEvents: WireEvent[] = [];

/** The log and the browser's console errors (a refused WebSocket handshake shows only there). */
async function diagnostics(): Promise<string> {
  const lines = (await page.locator('[role="log"] li').allTextContents()).filter(Boolean).join('\n  ');
  return `log:\n  ${lines}\nconsole errors:\n  ${consoleErrors.join('\n  ') || '(none)'}`;
}

/** Waits for a log line; on timeout the error carries the diagnostics, which say what happened. */
async function line(role: string, text: string | RegExp, status?: string, timeout = 20_000): Promise<void> {
  const selector = `[data-role="${role}"]${status ? `[data-status="${status}"]` : ''}`;
  try {
    await page.getByRole('log').locator(selector, { hasText: text }).first().waitFor({ timeout });
  } catch (err) {
    throw new Error(`no ${selector} line with ${String(text)} within ${timeout} ms; ${await diagnostics()}`, {
      cause: err,
    });
  }
}

function parse(payload: string | Buffer): WireEvent | undefined {
  try {
    return JSON.parse(payload.toString()) as WireEvent;
  } catch {
    return undefined;
  }
}

function recordSockets(p: Page): void {
  p.on('websocket', (ws) => {
    const socket = { url: ws.url(), sent: [] as WireEvent[], received: [] as WireEvent[] };
    sockets.push(socket);
    ws.on('framesent', (frame) => {
      const event = parse(frame.payload);
      if (event) socket.sent.push(event);
    });
    ws.on('framereceived', (frame) => {
      const event = parse(frame.payload);
      if (event) socket.received.push(event);
    });
    // Handshake failures never reach the page's console; record them for the failure messages.
    ws.on('socketerror', (error) => consoleErrors.push(`WebSocket: ${error}`));
  });
}

/** Audio samples the page's player has played so far, and its output rate. */
async function played(): Promise<{ samples: number; rate: number }> {
  const meta = page.locator('[data-played-samples]');
  return {
    samples: Number(await meta.getAttribute('data-played-samples')),
    rate: Number(await meta.getAttribute('data-output-rate')),
  };
}

/** Waits until the player has played more than `seconds` beyond `from` samples. */
async function playedBeyond(from: number, seconds: number): Promise<void> {
  await page.waitForFunction(
    ([start, s]) => {
      const el = document.querySelector<HTMLElement>('[data-played-samples]');
      const rate = Number(el?.dataset.outputRate);
      return rate > 0 && Number(el?.dataset.playedSamples) - start > rate * s;
    },
    [from, seconds] as const,
    { timeout: 20_000 },
  );
}

/**
 * No uncaught errors, and no policy violation in the page loaded now: the SDK's zod must not try eval, and
 * nothing may be fetched from elsewhere (traces to api.openai.com, say).
 */
async function expectCleanPage(): Promise<void> {
  expect(pageErrors).toEqual([]);
  const violations = await page.evaluate(
    () => (window as unknown as { __cspViolations: string[] }).__cspViolations,
  );
  expect(violations).toEqual([]);
  expect(consoleErrors.filter((m) => /Content Security Policy|unsafe-eval|Uncaught/i.test(m))).toEqual([]);
}

/** The text a user message item carried, from a `conversation.item.create`. */
function messageText(event: WireEvent): string | undefined {
  if (event.type !== 'conversation.item.create') return undefined;
  const item = event.item as { role?: string; content?: Array<{ text?: string }> } | undefined;
  return item?.role === 'user' ? (item.content?.[0]?.text ?? '') : undefined;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser test cannot run (apt-get install chromium, or set RTV_CHROMIUM)`,
    );
  }
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rtv-browser-openai-'));
  const wav = path.join(tmp, 'speech.wav');
  await speechWav(wav);
  // As under `npm start`: no verifier, so any credential but an OpenAI key is an anonymous user. The policy
  // allows one model, so that the page can be shown a refused one.
  stack = await startStack({
    gatewayEnv: {
      RTV_AUTH_JWT_SECRET: '',
      RTV_OPENAI_POLICY: JSON.stringify({ classes: { default: { models: ['gpt-realtime'] } } }),
    },
  });
  stack.engine.events.on('client-event', (_conn: string, event: WireEvent) => engineEvents.push(event));
  demo = await startDemoServer({
    host: '127.0.0.1',
    port: 0,
    gatewayUrl: `ws://127.0.0.1:${stack.gateways[0]!.port}/api/v1/streaming/realtime`,
    assets: await buildDemoAssets({ minify: false }),
    log: createLogger('demo-web', 'silent'),
  });
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      // %noloop: speak the file once, then silence.
      `--use-file-for-fake-audio-capture=${wav}%noloop`,
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Policy violations, as the page sees them (the console does not report every blocked eval).
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  recordSockets(page);
}, 90_000);

afterAll(async () => {
  await context?.close();
  await demo?.close();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('demo page in OpenAI SDK mode, in headless Chromium', () => {
  it('connects the Agents SDK to /v1/realtime and answers a typed greeting with transcript and audio', async () => {
    await page.goto(`${demo.url}openai`);
    await expect(page.title()).resolves.toContain('OpenAI SDK mode');
    const panel = page.locator('section.rtv-voice');
    await page.getByRole('button', { name: 'Connect' }).click();
    await panel
      .and(page.locator('[data-state="open"]'))
      .waitFor({ timeout: 15_000 })
      .catch(async (err: unknown) => {
        throw new Error(`the SDK did not connect; ${await diagnostics()}`, { cause: err });
      });
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await line('event', 'Connected');

    const before = (await played()).samples;
    const message = page.getByLabel('Message');
    await message.fill('Hello');
    await message.press('Enter');
    await line('user', 'Hello', 'done');
    await line('assistant', GREETING_REPLY, 'done');
    // The reply's audio reached the output through the page's AudioWorklet player.
    await playedBeyond(before, 0.3);
    expect((await played()).rate).toBeGreaterThanOrEqual(8000);

    // It was the SDK, in the browser, talking to the gateway's OpenAI-compatible route.
    expect(sockets.map((s) => new URL(s.url).pathname + new URL(s.url).search)).toEqual([
      '/v1/realtime?model=gpt-realtime',
    ]);
    const socket = sockets[0]!;
    expect(new URL(socket.url).port).toBe(String(stack.gateways[0]!.port));
    const sentTypes = socket.sent.map((e) => e.type);
    expect(sentTypes).toEqual(
      expect.arrayContaining(['session.update', 'conversation.item.create', 'response.create']),
    );
    expect(socket.sent.map(messageText).filter((t) => t !== undefined)).toEqual(['Hello']);
    const created = socket.received.find((e) => e.type === 'session.created') as
      | { session?: { id?: string } }
      | undefined;
    expect(created?.session?.id).toBeTruthy();
    expect(await panel.getAttribute('data-session-id')).toBe(created?.session?.id);
    const transcripts = socket.received
      .filter((e) => e.type === 'response.output_audio_transcript.done')
      .map((e) => e.transcript);
    expect(transcripts).toEqual([GREETING_REPLY]);
    // Through the worker to the provider (the local engine), with the page's words.
    expect(engineEvents.map(messageText)).toContain('Hello');
  }, 60_000);

  it('runs the page’s get_time tool in the browser when the model calls it', async () => {
    const message = page.getByLabel('Message');
    await message.fill('Use get_time UTC');
    await message.press('Enter');
    await line('tool', 'get_time({"timezone":"UTC"})');
    // The SDK executed the tool and sent its output; the engine's follow-up reply quotes it.
    await line('assistant', /The get_time call returned: \{.*"timezone":"UTC"/, 'done');
    const outputs = sockets[0]!.sent.filter(
      (e) =>
        e.type === 'conversation.item.create' &&
        (e.item as { type?: string }).type === 'function_call_output',
    );
    expect(outputs).toHaveLength(1);
    const output = JSON.parse((outputs[0]!.item as { output: string }).output) as Record<string, unknown>;
    expect(output).toMatchObject({
      timezone: 'UTC',
      date: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
      time: expect.stringMatching(/^\d\d:\d\d:\d\d$/),
    });
  }, 30_000);

  it('sends the microphone: the spoken turn is transcribed and answered', async () => {
    const before = (await played()).samples;
    await page.getByRole('button', { name: 'Start microphone' }).click();
    await page.getByText('Microphone on').waitFor({ timeout: 10_000 });
    // The local engine's stand-in transcript of the user's audio, and its answer to audio.
    await line('user', /\[speech \d+\.\d\d s\]/, 'done', 25_000);
    await line('assistant', /I heard \d+\.\d seconds of audio\./, 'done', 25_000);
    await playedBeyond(before, 0.3);
    expect(sockets[0]!.sent.some((e) => e.type === 'input_audio_buffer.append')).toBe(true);
  }, 45_000);

  it('disconnects, and shows the gateway refusing an OpenAI key as credential', async () => {
    const panel = page.locator('section.rtv-voice');
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await panel.and(page.locator('[data-state="closed"]')).waitFor();
    await line('event', 'Disconnected');
    await page.getByRole('status').filter({ hasText: 'Disconnected' }).waitFor();

    await page.getByLabel('Gateway credential').fill('sk-proj-not-for-browsers');
    const opened = sockets.length;
    await page.getByRole('button', { name: 'Connect' }).click();
    await line('error', 'Could not connect: the gateway refused the connection');
    await panel.and(page.locator('[data-state="closed"]')).waitFor();
    expect(sockets).toHaveLength(opened + 1);
    expect(sockets.at(-1)!.received).toEqual([]);
    // The refusal is the gateway's 401 at the upgrade, which Chromium reports only on its console.
    expect(consoleErrors.join('\n')).toMatch(
      /v1\/realtime\?model=gpt-realtime' failed: HTTP Authentication failed/,
    );
    expect(await page.locator('[data-role="error"]').count()).toBe(1);

    const artifacts = path.join(REPO_ROOT, 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'browser-openai-sdk.png'), fullPage: true });
    await expectCleanPage();
  }, 30_000);

  it('shows the error and the close code when the gateway refuses the model asked for', async () => {
    await page.goto(`${demo.url}openai?model=gpt-realtime-mini`);
    await page.getByText('model=gpt-realtime-mini').waitFor();
    await page.getByRole('button', { name: 'Connect' }).click();
    // The provider's way, which the gateway follows: the upgrade succeeds, then an error and close 4403.
    await line('error', /is not allowed on this server.*\(model_not_allowed\)/);
    await line('error', /^ErrorConnection closed \(4403\b/);
    await page.locator('section.rtv-voice[data-state="closed"]').waitFor();
    expect(sockets.at(-1)!.url).toMatch(/\/v1\/realtime\?model=gpt-realtime-mini$/);

    await expectCleanPage();
  }, 30_000);
});
