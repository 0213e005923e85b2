// The component's markup and accessibility contract, rendered on the server (no DOM needed). Interaction
// is covered in a real browser by tests/e2e/browser-demo.int.test.ts.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RealtimeVoice } from '../src/RealtimeVoice.js';

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
});
