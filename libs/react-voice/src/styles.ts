/**
 * The component's stylesheet. Every colour, radius and font is a `--rtv-*` custom property on
 * `.rtv-voice`, so an application themes it by setting those (on the element, a parent, or `:root`).
 */
export const REALTIME_VOICE_CSS = `
.rtv-voice {
  --rtv-bg: #ffffff;
  --rtv-fg: #1b1f24;
  --rtv-muted: #5b6470;
  --rtv-border: #d5dae1;
  --rtv-accent: #2f6fed;
  --rtv-accent-fg: #ffffff;
  --rtv-user-bg: #eef3fe;
  --rtv-assistant-bg: #f4f5f7;
  --rtv-danger: #c62828;
  --rtv-ok: #2e7d32;
  --rtv-warn: #b26a00;
  --rtv-radius: 10px;
  --rtv-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --rtv-log-height: 22rem;
  box-sizing: border-box;
  display: flex;
  flex-direction: column;
  gap: 0.75rem;
  padding: 1rem;
  max-width: 42rem;
  font-family: var(--rtv-font);
  color: var(--rtv-fg);
  background: var(--rtv-bg);
  border: 1px solid var(--rtv-border);
  border-radius: var(--rtv-radius);
}
.rtv-voice *, .rtv-voice *::before, .rtv-voice *::after { box-sizing: inherit; }
.rtv-voice__header { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem; }
.rtv-voice__title { margin: 0; font-size: 1.15rem; }
.rtv-voice__status { margin: 0; color: var(--rtv-muted); display: flex; align-items: center; gap: 0.4rem; }
.rtv-voice__dot { width: 0.6rem; height: 0.6rem; border-radius: 50%; background: var(--rtv-muted); }
.rtv-voice__status[data-state="open"] .rtv-voice__dot { background: var(--rtv-ok); }
.rtv-voice__status[data-state="connecting"] .rtv-voice__dot,
.rtv-voice__status[data-state="reconnecting"] .rtv-voice__dot { background: var(--rtv-warn); }
.rtv-voice__controls, .rtv-voice__audio, .rtv-voice__form { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; }
.rtv-voice button {
  font: inherit; padding: 0.45rem 0.9rem; border-radius: var(--rtv-radius);
  border: 1px solid var(--rtv-border); background: var(--rtv-bg); color: var(--rtv-fg); cursor: pointer;
}
.rtv-voice button:disabled { opacity: 0.5; cursor: not-allowed; }
.rtv-voice button:focus-visible, .rtv-voice input:focus-visible { outline: 2px solid var(--rtv-accent); outline-offset: 2px; }
.rtv-voice .rtv-voice__primary, .rtv-voice .rtv-voice__talk { background: var(--rtv-accent); color: var(--rtv-accent-fg); border-color: var(--rtv-accent); }
.rtv-voice .rtv-voice__talk[aria-pressed="true"] { background: var(--rtv-danger); border-color: var(--rtv-danger); }
.rtv-voice__talk { touch-action: none; user-select: none; }
.rtv-voice__modes { display: flex; gap: 0.75rem; border: 0; margin: 0; padding: 0; }
.rtv-voice__modes legend { float: left; margin-right: 0.5rem; color: var(--rtv-muted); }
.rtv-voice__meter { flex: 1 1 8rem; height: 0.6rem; border-radius: 999px; background: var(--rtv-assistant-bg); overflow: hidden; }
.rtv-voice__meter-fill { height: 100%; background: var(--rtv-accent); transition: width 60ms linear; }
.rtv-voice__meta { margin: 0; color: var(--rtv-muted); font-size: 0.9rem; }
.rtv-voice__error {
  display: flex; justify-content: space-between; align-items: center; gap: 0.5rem;
  padding: 0.5rem 0.75rem; border-radius: var(--rtv-radius); color: var(--rtv-danger); border: 1px solid var(--rtv-danger);
}
.rtv-voice__error button { padding: 0 0.5rem; border: 0; color: inherit; }
.rtv-voice__log {
  list-style: none; margin: 0; padding: 0.25rem; height: var(--rtv-log-height); overflow-y: auto;
  display: flex; flex-direction: column; gap: 0.4rem; border: 1px solid var(--rtv-border); border-radius: var(--rtv-radius);
}
.rtv-voice__entry { padding: 0.4rem 0.6rem; border-radius: var(--rtv-radius); white-space: pre-wrap; }
.rtv-voice__entry--user { background: var(--rtv-user-bg); align-self: flex-end; max-width: 85%; }
.rtv-voice__entry--assistant { background: var(--rtv-assistant-bg); align-self: flex-start; max-width: 85%; }
.rtv-voice__entry--event { color: var(--rtv-muted); font-size: 0.85rem; align-self: center; }
.rtv-voice__entry--error { color: var(--rtv-danger); font-size: 0.9rem; }
.rtv-voice__entry--tool { color: var(--rtv-muted); font-size: 0.85rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; align-self: flex-start; max-width: 85%; overflow-wrap: anywhere; }
.rtv-voice__entry--tool[data-status="failed"] .rtv-voice__detail { color: var(--rtv-danger); }
.rtv-voice__entry--user[data-status="streaming"] .rtv-voice__text { color: var(--rtv-muted); }
.rtv-voice__who { font-weight: 600; margin-right: 0.4rem; }
.rtv-voice__entry--event .rtv-voice__who { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.rtv-voice__end { height: 0; padding: 0; }
.rtv-voice__form input { flex: 1 1 12rem; font: inherit; padding: 0.45rem 0.6rem; border: 1px solid var(--rtv-border); border-radius: var(--rtv-radius); background: var(--rtv-bg); color: var(--rtv-fg); }
.rtv-voice__label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-color-scheme: dark) {
  .rtv-voice {
    --rtv-bg: #16191d; --rtv-fg: #e7eaee; --rtv-muted: #9aa3ad; --rtv-border: #2d333b;
    --rtv-user-bg: #1e2a44; --rtv-assistant-bg: #22262c; --rtv-accent: #5b8dff;
  }
}
@media (prefers-reduced-motion: reduce) { .rtv-voice__meter-fill { transition: none; } }
`;
