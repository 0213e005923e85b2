// Resuming a session with a raw test socket, as the SDK does: `?resume=<sid>` in the URL, the token as the
// `rtv.resume.<token>` subprotocol entry, and a retry while the gateway answers `session_in_use` + 1013 (the old
// socket's drop is not recorded yet).
import { type WsConnectOptions, WsTestClient, waitFor } from '@rtv/testing';

export interface ResumeOptions extends WsConnectOptions {
  /** Extra query parameters (`seq=1`, `last_seq=…`). */
  query?: Record<string, string | number>;
  /** How long to keep retrying `session_in_use`. @defaultValue 20_000 */
  retryForMs?: number;
}

/** The URL of a resume of `sid` (no token in it). */
export function resumeUrl(base: string, sid: string, query: ResumeOptions['query'] = {}): string {
  const params = new URLSearchParams({ resume: sid });
  for (const [k, v] of Object.entries(query)) params.set(k, String(v));
  return `${base}?${params}`;
}

/** One resume attempt: the socket, whatever the gateway answers. */
export function resumeOnce(
  base: string,
  sid: string,
  token: string,
  opts: ResumeOptions = {},
): Promise<WsTestClient> {
  return WsTestClient.connect(resumeUrl(base, sid, opts.query), {
    ...opts,
    protocols: [...(opts.protocols ?? ['rtv.v1']), `rtv.resume.${token}`],
  });
}

/**
 * Resumes, retrying every 200 ms while refused with `session_in_use` and 1013; resolves with the socket whose
 * first message is not that refusal (`session.created`, or another refusal the caller reads with `next`).
 */
export async function resume(
  base: string,
  sid: string,
  token: string,
  opts: ResumeOptions = {},
): Promise<WsTestClient> {
  const deadline = Date.now() + (opts.retryForMs ?? 20_000);
  for (;;) {
    const ws = await resumeOnce(base, sid, token, opts);
    // Looks at the first message without consuming it, so the caller still reads it with `next`.
    await waitFor(() => ws.all().length > 0, {
      timeoutMs: 10_000,
      message: 'a first message after the resume',
    });
    const first = ws.all()[0] as { error?: { code: string } };
    if (first.error?.code !== 'session_in_use' || Date.now() > deadline) return ws;
    await ws.closed;
    await new Promise((r) => setTimeout(r, 200));
  }
}
