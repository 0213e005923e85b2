// The demo page's get_time tool, answered in the browser by RealtimeVoice's onFunctionCall prop.
import { describe, expect, it } from 'vitest';
import { answerDemoTool, DEMO_TOOLS, getTime } from '../src/page/tools.js';

const noon = new Date('2025-03-14T12:34:56Z');

describe('get_time', () => {
  it('is declared as a function tool with an optional time zone', () => {
    expect(DEMO_TOOLS.map((t) => [t.type, t.name, Object.keys(t.parameters?.properties ?? {})])).toEqual([
      ['function', 'get_time', ['timezone']],
    ]);
  });

  it('tells the time in the zone asked for, or in the browser’s own zone', () => {
    expect(getTime({ timezone: 'Asia/Tokyo' }, noon)).toEqual({
      timezone: 'Asia/Tokyo',
      date: '2025-03-14',
      time: '21:34:56',
      weekday: 'Friday',
    });
    const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(getTime({ timezone: ' ' }, noon).timezone).toBe(own);
    expect(getTime({}, noon).timezone).toBe(own);
    expect(getTime(undefined, noon).timezone).toBe(own);
  });

  it('answers calls by name, and throws (an error output for the model) for what it cannot answer', () => {
    expect(
      answerDemoTool({
        callId: 'c1',
        name: 'get_time',
        arguments: '{}',
        parsedArguments: { timezone: 'UTC' },
      }),
    ).toMatchObject({ timezone: 'UTC' });
    expect(() =>
      answerDemoTool({
        callId: 'c2',
        name: 'get_time',
        arguments: '',
        parsedArguments: { timezone: 'Mars/Base' },
      }),
    ).toThrow('unknown time zone "Mars/Base"; use an IANA name such as Europe/Lisbon');
    expect(() => answerDemoTool({ callId: 'c3', name: 'get_weather', arguments: '{}' })).toThrow(
      'this page has no tool named get_weather',
    );
  });
});
