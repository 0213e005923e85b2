// The OpenAI SDK mode's conversation log: lines made from the RealtimeSession's history (which the SDK keeps
// from the provider's events) and from what happened to the connection. Pure, so it is tested in Node.
import type { RealtimeItem } from '@openai/agents-realtime';

/** One line of the log, shown with the same roles and statuses as the gateway-protocol page's log. */
export interface SdkLine {
  /** The conversation item's id, or `note-<n>` for a line about the connection. */
  key: string;
  role: 'user' | 'assistant' | 'tool' | 'event' | 'error';
  text: string;
  /** Replies and tool calls are `streaming` until finished; a cut-off reply is `cancelled`. */
  status?: 'streaming' | 'done' | 'cancelled' | 'failed';
  /** A tool line's output, once there is one. */
  detail?: string;
}

/** Oldest lines are dropped beyond this, so a long session does not grow the page without bound. */
export const MAX_SDK_LINES = 200;

const ITEM_STATUS = {
  in_progress: 'streaming',
  completed: 'done',
  incomplete: 'cancelled',
} as const satisfies Record<string, SdkLine['status']>;

/** The line showing one history item, or undefined for items the log does not show (system messages). */
export function lineOfItem(item: RealtimeItem): SdkLine | undefined {
  if (item.type === 'message') {
    if (item.role === 'system') return undefined;
    if (item.role === 'user') {
      const parts = item.content.map((part) =>
        part.type === 'input_text' ? part.text : (part.transcript ?? ''),
      );
      const text = parts.join(' ').trim();
      const spoken = item.content.some((part) => part.type === 'input_audio');
      // A spoken turn shows a placeholder until its transcript arrives.
      if (text === '' && spoken) {
        return { key: item.itemId, role: 'user', text: 'Voice message', status: 'streaming' };
      }
      return { key: item.itemId, role: 'user', text, status: 'done' };
    }
    const text = item.content
      .map((part) => (part.type === 'output_text' ? part.text : (part.transcript ?? '')))
      .join('');
    return { key: item.itemId, role: 'assistant', text, status: ITEM_STATUS[item.status] };
  }
  if (item.type === 'function_call' || item.type === 'mcp_call' || item.type === 'mcp_tool_call') {
    const status = item.status === 'incomplete' ? 'failed' : ITEM_STATUS[item.status];
    return {
      key: item.itemId,
      role: 'tool',
      text: `${item.name}(${item.arguments})`,
      status: item.output === null && status === 'done' ? 'streaming' : status,
      ...(item.output !== null ? { detail: item.output } : {}),
    };
  }
  return undefined;
}

/**
 * The log after a history update: lines of items already shown are updated in place (a reply's transcript
 * grows, its status changes), lines of new items are appended, and lines about the connection stay where
 * they were, so the log reads in the order things happened. Items the history dropped keep their lines.
 */
export function mergeHistory(lines: readonly SdkLine[], history: readonly RealtimeItem[]): SdkLine[] {
  const next = [...lines];
  const index = new Map(next.map((line, i) => [line.key, i]));
  for (const item of history) {
    const line = lineOfItem(item);
    if (!line) continue;
    const at = index.get(line.key);
    if (at === undefined) {
      index.set(line.key, next.length);
      next.push(line);
    } else {
      next[at] = line;
    }
  }
  return next.slice(-MAX_SDK_LINES);
}

/** A readable message from whatever the SDK reports: an Error, a server `error` event, or anything else. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  const event = error as { error?: { message?: unknown; code?: unknown }; message?: unknown } | null;
  const inner = event?.error;
  if (inner && typeof inner.message === 'string') {
    return typeof inner.code === 'string' ? `${inner.message} (${inner.code})` : inner.message;
  }
  if (typeof event?.message === 'string') return event.message;
  return String(error);
}
