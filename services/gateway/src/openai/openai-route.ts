import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { readFileSync } from 'node:fs';
import { type CompatPolicy, parseCompatPolicy } from '@rtv/protocol';
import type { SocketData } from '../routing/client-session.js';
import { createSocketBehavior, type SocketBehaviorOptions } from '../ws/socket-handlers.js';
import type { OpenAiFrameIntake } from './openai-intake.js';
import { handleOpenAiUpgrade, type OpenAiRouteDeps } from './openai-upgrade.js';

/** The path OpenAI's SDKs connect to when their base URL is the gateway's (`…/v1`). */
export const OPENAI_REALTIME_PATH = '/v1/realtime';

/**
 * The uWS behaviour of `/v1/realtime`: the seed routes' open, close and limits, with the OpenAI-compatible
 * upgrade (credentials, policy) and frame intake.
 */
export function createOpenAiSocketBehavior(
  opts: SocketBehaviorOptions,
  intake: OpenAiFrameIntake,
  route: OpenAiRouteDeps,
): WebSocketBehavior<SocketData> {
  return {
    ...createSocketBehavior(opts, 'openai'),
    upgrade: (res, req, context) => handleOpenAiUpgrade(opts.upgrade, route, res, req, context),
    message: (ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) => {
      intake.onMessage(ws.getUserData().session, message, isBinary);
    },
  };
}

/**
 * The route's policy from `RTV_OPENAI_POLICY` (JSON), else the file `RTV_OPENAI_POLICY_FILE` names, else the
 * default (any model, nothing pinned). A bad policy stops the gateway at start with the path of the bad value.
 */
export function loadOpenAiPolicy(config: {
  RTV_OPENAI_POLICY?: string | undefined;
  RTV_OPENAI_POLICY_FILE?: string | undefined;
}): CompatPolicy {
  let text = config.RTV_OPENAI_POLICY;
  let source = 'RTV_OPENAI_POLICY';
  if (text === undefined && config.RTV_OPENAI_POLICY_FILE !== undefined) {
    source = `RTV_OPENAI_POLICY_FILE (${config.RTV_OPENAI_POLICY_FILE})`;
    text = readFileSync(config.RTV_OPENAI_POLICY_FILE, 'utf8');
  }
  if (text === undefined) return parseCompatPolicy(undefined);
  try {
    return parseCompatPolicy(JSON.parse(text));
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
}
