// The demo page in headless Chromium against the real stack: a fake microphone (a WAV of synthesized
// speech) speaks, the server detects it and answers, the user's words appear as a transcript (the local
// engine's stand-in, "[speech 2.34 s]"), the answer is played through the AudioWorklet, a typed message gets
// its reply, a message naming the page's get_time tool makes the model call it and the page's
// onFunctionCall answer it, push-to-talk works, and a killed connection resumes the session. Needs Debian's
// `chromium` (.ci/run installs it).
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
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const CHROMIUM = process.env.RTV_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  // CI installs chromium (.ci/run): a missing browser there is a broken setup, not a reason to skip.
  throw new Error(`${CHROMIUM} is missing: the browser test cannot run (apt-get install chromium)`);
}
if (!haveChromium) {
  console.warn(
    `browser-demo: SKIPPED, ${CHROMIUM} not found (apt-get install chromium, or set RTV_CHROMIUM)`,
  );
}

/** Synthesized speech framed by silence, as a 48 kHz mono WAV (the rate Chromium's fake device runs at). */
async function speechWav(file: string): Promise<void> {
  const clip = await makeSpeechWav('Hello there. What is the weather like today?');
  const rate = clip.sampleRate;
  const samples = new Int16Array(Math.round(rate * 0.8) + clip.samples.length + rate * 3);
  samples.set(clip.samples, Math.round(rate * 0.8));
  const at48k = toMonoAt({ sampleRate: rate, channels: 1, samples }, 48_000);
  await writeFile(file, writeWav({ sampleRate: 48_000, channels: 1, samples: at48k }));
}

async function textOf(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).allTextContents();
}

const pageErrors: string[] = [];
const consoleErrors: string[] = [];

/** The transcript and the browser's console errors (a refused WebSocket handshake shows only there). */
async function diagnostics(page: Page): Promise<string> {
  const transcript = (await textOf(page, '[role="log"] li')).filter(Boolean).join('\n  ');
  return `transcript:\n  ${transcript}\nconsole errors:\n  ${consoleErrors.join('\n  ') || '(none)'}`;
}

/** Waits for a transcript line; on timeout the error carries the diagnostics, which say what happened. */
async function entry(page: Page, role: string, text: string | RegExp, timeout = 20_000): Promise<void> {
  const line = page.getByRole('log').locator(`[data-role="${role}"]`, { hasText: text });
  try {
    await line.first().waitFor({ timeout });
  } catch (err) {
    throw new Error(`no ${role} line with ${String(text)} within ${timeout} ms; ${await diagnostics(page)}`, {
      cause: err,
    });
  }
}

/** Like {@link entry}, but a miss is recorded (the test fails at its end) and the run goes on. */
async function softEntry(
  page: Page,
  role: string,
  text: string | RegExp,
  timeout = 20_000,
): Promise<boolean> {
  const found = await entry(page, role, text, timeout).then(
    () => undefined,
    (err: Error) => err.message,
  );
  expect.soft(found, `${role} line with ${String(text)}`).toBeUndefined();
  return found === undefined;
}

/** Finished assistant replies in the log. */
function repliesDone(page: Page): Promise<number> {
  return page.locator('[data-role="assistant"][data-status="done"]').count();
}

/** Waits until more than `before` assistant replies are finished. */
async function replyAfter(page: Page, before: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-role="assistant"][data-status="done"]').length > n,
    before,
    { timeout },
  );
}

/** A spoken user turn's line: "Voice message (…)" until its transcript arrives. */
const VOICE_TURN = /Voice message \(\d|\[speech \d+\.\d\d s\]/;
/** The local engine's stand-in transcript of a spoken turn. */
const SPEECH_TRANSCRIPT = /\[speech \d+\.\d\d s\]/;

describe.skipIf(!haveChromium)('demo page in headless Chromium', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let demo: DemoServer;
  let context: BrowserContext;
  let page: Page;
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rtv-browser-'));
    const wav = path.join(tmp, 'speech.wav');
    await speechWav(wav);
    stack = await startStack();
    // The page reaches the gateway through a relay the test can cut, like a network failure would.
    proxy = await startTcpProxy({ port: stack.gateways[0]!.port });
    demo = await startDemoServer({
      host: '127.0.0.1',
      port: 0,
      gatewayUrl: `ws://127.0.0.1:${proxy.port}/api/v1/streaming/realtime`,
      assets: await buildDemoAssets({ minify: false }),
      log: createLogger('demo-web', 'silent'),
    });
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        // %noloop: speak the file once, then silence (a looping file would barge in on every reply).
        `--use-file-for-fake-audio-capture=${wav}%noloop`,
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    // Handshake failures never reach the page's console; record them for the failure messages.
    page.on('websocket', (ws) => ws.on('socketerror', (error) => consoleErrors.push(`WebSocket: ${error}`)));
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
    await proxy?.close();
    await stack?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('talks hands-free, by text and push-to-talk, plays the reply, and resumes after a cut', async () => {
    await page.goto(`${demo.url}?user=browser_e2e`);
    await page.getByRole('button', { name: 'Connect' }).click();
    const panel = page.locator('section.rtv-voice');
    await panel.and(page.locator('[data-state="open"]')).waitFor({ timeout: 15_000 });
    const firstSession = await panel.getAttribute('data-session-id');
    expect(firstSession).toMatch(/^sess_/);
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();

    // The fake microphone speaks: the level meter moves, the server hears the speech start and stop, and
    // answers with speech.
    await page.waitForFunction(
      () => Number(document.querySelector('[role="meter"]')?.getAttribute('aria-valuenow')) > 0,
      undefined,
      { timeout: 15_000 },
    );
    await entry(page, 'event', 'Speech detected');
    await entry(page, 'user', VOICE_TURN);
    await page
      .getByRole('log')
      .locator('[data-role="assistant"][data-status="done"]')
      .first()
      .waitFor({ timeout: 20_000 });
    // The user's words replace "Voice message (…)" in the same line (conversation.item.transcript).
    if (await softEntry(page, 'user', SPEECH_TRANSCRIPT)) {
      const spoken = page.getByRole('log').locator('[data-role="user"]', { hasText: SPEECH_TRANSCRIPT });
      expect(await spoken.count()).toBe(1);
      expect(await spoken.getAttribute('data-status')).toBe('done');
      expect(await textOf(page, '[data-role="user"]')).toEqual([expect.stringMatching(SPEECH_TRANSCRIPT)]);
    }
    // Samples of the reply reached the audio output (counted by the playback worklet).
    const played = page.locator('[data-played-samples]');
    await page.waitForFunction(
      () => {
        const el = document.querySelector<HTMLElement>('[data-played-samples]');
        const samples = Number(el?.dataset.playedSamples);
        const rate = Number(el?.dataset.outputRate);
        return rate > 0 && samples > rate * 0.3;
      },
      undefined,
      { timeout: 20_000 },
    );
    const samples = Number(await played.getAttribute('data-played-samples'));
    const rate = Number(await played.getAttribute('data-output-rate'));
    expect(rate).toBeGreaterThanOrEqual(8000);
    expect(samples / rate).toBeGreaterThan(0.3);

    // A typed message gets its reply.
    const message = page.getByLabel('Message');
    let before = await repliesDone(page);
    await message.fill('What time is it?');
    await message.press('Enter');
    await entry(page, 'user', 'What time is it?');
    await replyAfter(page, before);

    // A message naming the page's tool: the model calls get_time, the page's onFunctionCall answers it in
    // the browser, the tool line shows the call and its output, and the follow-up reply quotes the output.
    before = await repliesDone(page);
    await message.fill('Use get_time UTC');
    await message.press('Enter');
    const call = 'get_time({"timezone":"UTC"})';
    if (await softEntry(page, 'tool', call)) {
      const tool = page.getByRole('log').locator('[data-role="tool"]', { hasText: call });
      await tool.and(page.locator('[data-status="done"]')).waitFor({ timeout: 10_000 });
      const output = (await tool.locator('.rtv-voice__detail').textContent())?.replace(/^ → /, '') ?? '';
      expect(JSON.parse(output)).toMatchObject({
        timezone: 'UTC',
        date: expect.stringMatching(/^\d{4}-\d\d-\d\d$/),
        time: expect.stringMatching(/^\d\d:\d\d:\d\d$/),
      });
      expect(await tool.textContent()).toMatch(/^🔧 Tool/);
      await softEntry(page, 'assistant', `The get_time call returned: ${output}`);
    }
    // Whatever happened to the call, the next step starts after this message's reply.
    await replyAfter(page, before).catch(() => undefined);

    // Push to talk: the session switches to manual turns; holding the button sends the microphone, and
    // releasing it commits the turn and asks for the reply.
    await page.getByRole('radio', { name: 'Push to talk' }).check();
    const talk = page.getByRole('button', { name: 'Hold to talk' });
    await talk.waitFor();
    const box = (await talk.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    before = await repliesDone(page);
    await page.mouse.down();
    await page.getByRole('button', { name: 'Release to send' }).waitFor();
    await page.waitForTimeout(800);
    await page.mouse.up();
    await replyAfter(page, before);
    expect(await textOf(page, '[data-role="error"]')).toEqual([]);
    // The turn is logged (no server VAD events in this mode): with how long the button was held, then
    // with its transcript, in the same line.
    const voiceTurns = (await textOf(page, '[data-role="user"]')).filter((t) => VOICE_TURN.test(t));
    expect(voiceTurns).toHaveLength(2);
    await page
      .waitForFunction(
        (source) =>
          Array.from(document.querySelectorAll('[data-role="user"]')).filter((e) =>
            new RegExp(source).test(e.textContent ?? ''),
          ).length >= 2,
        SPEECH_TRANSCRIPT.source,
        { timeout: 10_000 },
      )
      .catch(() => undefined);
    expect
      .soft(
        (await textOf(page, '[data-role="user"]')).filter((t) => SPEECH_TRANSCRIPT.test(t)),
        'transcripts',
      )
      .toHaveLength(2);
    await page.getByRole('radio', { name: 'Hands-free' }).check();

    // Cut the connection under the page: it notices and reconnects. The server normally resumes the same
    // session; when it refuses the resume (session_not_found, 4001), the page must go on in a new session.
    // Both are correct client behaviour, so both are accepted, each checked for what it must show.
    proxy.cutAll();
    const outcome = await page
      .waitForFunction(
        () => {
          const lines = Array.from(
            document.querySelectorAll('[data-role="event"]'),
            (e) => e.textContent ?? '',
          );
          if (lines.some((t) => t.endsWith('Session resumed'))) return 'resumed';
          if (lines.some((t) => t.endsWith('Reconnected (new session)'))) return 'new session';
          return false;
        },
        undefined,
        { timeout: 20_000 },
      )
      .then((handle) => handle.jsonValue())
      .catch(async (err: unknown) => {
        throw new Error(`no reconnect after the cut; ${await diagnostics(page)}`, { cause: err });
      });
    await panel.and(page.locator('[data-state="open"]')).waitFor();
    const events = await textOf(page, '[data-role="event"]');
    expect(events).toEqual(
      expect.arrayContaining([expect.stringMatching(/Connection lost \(1006\); reconnecting in/)]),
    );
    if (outcome === 'resumed') {
      expect(await panel.getAttribute('data-session-id')).toBe(firstSession);
      expect(events).toEqual(expect.arrayContaining([expect.stringMatching(/Reconnected$/)]));
    } else {
      console.warn('browser-demo: the server refused the resume; the page continued in a new session');
      expect(await panel.getAttribute('data-session-id')).not.toBe(firstSession);
      expect(await textOf(page, '[data-role="error"]')).toEqual([
        expect.stringMatching(/\(session_not_found\)$/),
      ]);
    }
    before = await repliesDone(page);
    await message.fill('Still there?');
    await message.press('Enter');
    await replyAfter(page, before);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);

    const artifacts = path.join(REPO_ROOT, 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'browser-demo.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(consoleErrors.filter((m) => /Content Security Policy|Uncaught|WebSocket/i.test(m))).toEqual([]);
  }, 180_000);
});
