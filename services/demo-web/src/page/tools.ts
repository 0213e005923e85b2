// The demo's function tool: get_time, answered in the browser by RealtimeVoice's onFunctionCall prop.
import type { FunctionCall, FunctionTool } from '@rtv/client';

export const DEMO_TOOLS: FunctionTool[] = [
  {
    type: 'function',
    name: 'get_time',
    description:
      'Current date and time where the user is, or in a given time zone. Call it whenever the user asks for the time, the date or the day of the week.',
    parameters: {
      type: 'object',
      properties: {
        timezone: {
          type: 'string',
          description: "IANA time zone such as Europe/Lisbon; empty for the user's own.",
        },
      },
    },
  },
];

export interface TimeAnswer {
  timezone: string;
  date: string;
  time: string;
  weekday: string;
}

/** The time in `timezone` (an IANA name), or in the browser's own zone when it is empty or absent. */
export function getTime(args: unknown, now = new Date()): TimeAnswer {
  const requested = (args as { timezone?: unknown } | null)?.timezone;
  const timezone =
    typeof requested === 'string' && requested.trim() !== ''
      ? requested.trim()
      : Intl.DateTimeFormat().resolvedOptions().timeZone;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'long',
      hourCycle: 'h23',
    });
  } catch {
    throw new Error(`unknown time zone "${timezone}"; use an IANA name such as Europe/Lisbon`);
  }
  const part = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
  return {
    timezone: format.resolvedOptions().timeZone,
    date: `${part.year}-${part.month}-${part.day}`,
    time: `${part.hour}:${part.minute}:${part.second}`,
    weekday: String(part.weekday),
  };
}

/** The page's `onFunctionCall`: runs the tool the model called; a throw becomes the model's error output. */
export function answerDemoTool(call: FunctionCall): unknown {
  if (call.name === 'get_time') return getTime(call.parsedArguments);
  throw new Error(`this page has no tool named ${call.name}`);
}
