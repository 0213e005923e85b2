export {
  type ClientInput,
  type ClientOptions,
  DEFAULT_BASE_URL,
  DEFAULT_USER,
  parseClientArgs,
  resolveUrl,
  USAGE,
  UsageError,
} from './args.js';
export {
  type AudioInput,
  audioInputFromWav,
  FRAME_MS,
  loadAudioInput,
  replyWav,
  TRAILING_SILENCE_MS,
} from './audio.js';
export { type ClientIo, runClient } from './client.js';
export { EventPrinter, type Output, type PrinterOptions, type ServerEvent } from './render.js';
export {
  answerCall,
  loadToolsFile,
  parseToolsConfig,
  TOOLS_FILE_HELP,
  type ToolDeclaration,
  type ToolsConfig,
  ToolsFileError,
} from './tools.js';
