export { mixToMono, resamplePcm16, toMonoAt } from './resample.js';
export {
  hasEspeak,
  makeSpeechWav,
  makeSyntheticSpeech,
  PROTOCOL_SAMPLE_RATE,
  pcmFrames,
  type SpeechClip,
  type SpeechOptions,
} from './speech.js';
export { type PcmAudio, pcm16FromBytes, pcm16ToBytes, readWav, writeWav } from './wav.js';
