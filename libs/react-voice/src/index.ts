/**
 * @rtv/react-voice: the `RealtimeVoice` React component and the `useRealtimeVoice` hook behind it, built on
 * @rtv/client. See docs/client.md.
 */
export { RealtimeVoice, type RealtimeVoiceProps } from './RealtimeVoice.js';
export { REALTIME_VOICE_CSS } from './styles.js';
export {
  EMPTY_TRANSCRIPT,
  MAX_ENTRIES,
  MAX_TOOL_TEXT,
  type Transcript,
  type TranscriptAction,
  type TranscriptEntry,
  transcriptReducer,
} from './transcript.js';
export {
  type RealtimeVoice as RealtimeVoiceApi,
  type UseRealtimeVoiceOptions,
  useRealtimeVoice,
} from './use-realtime-voice.js';
