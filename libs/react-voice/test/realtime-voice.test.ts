// The component's markup and accessibility contract, rendered on the server (no DOM needed). Interaction
// is covered in a real browser by tests/e2e/browser-demo.int.test.ts.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RealtimeVoice, TranscriptLog } from '../src/RealtimeVoice.js';
import type { TranscriptEntry } from '../src/transcript.js';
import { realtimeClientOptions, type UseRealtimeVoiceOptions } from '../src/use-realtime-voice.js';

function render(props: Partial<Parameters<typeof RealtimeVoice>[0]> = {}): string {
  return renderToStaticMarkup(createElement(RealtimeVoice, { url: 'ws://127.0.0.1:1/x', ...props }));
}

describe('RealtimeVoice markup', () => {
  it('labels every control and exposes live regions for the state and the conversation', () => {
    const html = render({ title: 'Support line' });
    expect(html).toMatch(/<section[^>]*aria-labelledby="([^"]+)-title"[^>]*data-state="idle"/);
    expect(html).toMatch(/<h2 id="[^"]+-title"[^>]*>Support line<\/h2>/);
    expect(html).toMatch(/<p role="status"[^>]*>.*Not connected/);
    expect(html).toMatch(/<ol[^>]*role="log"[^>]*aria-live="polite"[^>]*aria-label="Conversation"/);
    expect(html).toMatch(
      /role="meter" aria-label="Microphone level" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"/,
    );
    // The text box has a real label bound to it.
    const id = /<input id="([^"]+)" type="text"/.exec(html)?.[1];
    expect(id).toBeDefined();
    expect(html).toContain(`<label for="${id}" class="rtv-voice__label">Message</label>`);
    expect(html).toMatch(/<fieldset[^>]*><legend>Talk mode<\/legend>/);
    expect(html).toMatch(/<button type="button" class="rtv-voice__primary">Connect<\/button>/);
    // Nothing to send while disconnected.
    expect(html).toMatch(/<button type="submit" disabled="">Send<\/button>/);
  });

  it('shows the push-to-talk button only in push-to-talk mode, disabled until audio runs', () => {
    expect(render()).not.toContain('Hold to talk');
    expect(render({ mode: 'push-to-talk' })).toMatch(
      /<button type="button" class="rtv-voice__talk" aria-pressed="false" disabled="">Hold to talk<\/button>/,
    );
  });

  it('ships its stylesheet with the theme variables and takes a class and inline variables for theming', () => {
    const html = render({ className: 'brand', style: { ['--rtv-accent' as string]: '#e91e63' } });
    expect(html).toMatch(/<section class="rtv-voice brand" style="--rtv-accent:#e91e63"/);
    expect(html).toMatch(/<style[^>]*>[\s\S]*--rtv-accent: #2f6fed;[\s\S]*<\/style>/);
  });

  it('writes tool lines in words (the icon is hidden from assistive technology) and says their state', () => {
    const entries: TranscriptEntry[] = [
      { id: 1, role: 'user', text: '[speech 2.34 s]', status: 'done', itemId: 'item_1', at: 0 },
      { id: 2, role: 'tool', text: 'get_time({})', callId: 'call_1', status: 'streaming', at: 0 },
      {
        id: 3,
        role: 'tool',
        text: 'get_time({"timezone":"Mars"})',
        callId: 'call_2',
        status: 'failed',
        detail: '{"error":"unknown"}',
        at: 0,
      },
      {
        id: 4,
        role: 'tool',
        text: 'get_time({})',
        callId: 'call_3',
        status: 'done',
        detail: '{"time":"12:00"}',
        at: 0,
      },
    ];
    const html = renderToStaticMarkup(createElement(TranscriptLog, { entries }));
    expect(html).toContain(
      '<li class="rtv-voice__entry rtv-voice__entry--user" data-role="user" data-status="done"><span class="rtv-voice__who">You</span><span class="rtv-voice__text">[speech 2.34 s]</span></li>',
    );
    const tool = (callId: string) =>
      new RegExp(`<li[^>]*data-call-id="${callId}">(.*?)</li>`).exec(html)?.[1];
    expect(tool('call_1')).toBe(
      '<span class="rtv-voice__icon" aria-hidden="true">🔧 </span><span class="rtv-voice__who">Tool</span><span class="rtv-voice__text">get_time({})</span><span class="rtv-voice__tag"> (running)</span>',
    );
    expect(tool('call_2')).toContain(
      '<span class="rtv-voice__detail"> → {&quot;error&quot;:&quot;unknown&quot;}</span><span class="rtv-voice__tag"> (failed)</span>',
    );
    expect(tool('call_3')).toMatch(
      /<span class="rtv-voice__detail"> → \{&quot;time&quot;:&quot;12:00&quot;\}<\/span>$/,
    );
  });
});

describe('realtimeClientOptions', () => {
  const tools = [{ type: 'function' as const, name: 'get_time' }];

  it('passes the tools and calls the latest onFunctionCall prop', async () => {
    const latest: { current: UseRealtimeVoiceOptions } = {
      current: { url: 'ws://x/y', tools, onFunctionCall: () => 'first', clientOptions: { pingTimeoutMs: 1 } },
    };
    const options = realtimeClientOptions(latest);
    expect(options).toMatchObject({ url: 'ws://x/y', tools, heartbeatIntervalMs: 5000, pingTimeoutMs: 1 });
    const call = { callId: 'c', name: 'get_time', arguments: '{}' };
    expect(await options.onFunctionCall!(call)).toBe('first');
    latest.current = { ...latest.current, onFunctionCall: () => 'second' };
    expect(await options.onFunctionCall!(call)).toBe('second');
    latest.current = { ...latest.current, onFunctionCall: undefined };
    expect(() => options.onFunctionCall!(call)).toThrow('no handler for get_time');
  });

  it('leaves calls to the application when there is no onFunctionCall prop', () => {
    expect(realtimeClientOptions({ current: { url: 'ws://x/y', tools } }).onFunctionCall).toBeUndefined();
  });
});
