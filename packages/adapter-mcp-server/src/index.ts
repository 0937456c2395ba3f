export type { Attribution, CallSite } from './recording/call-site.js';
export type {
  CaptureRegistrationsOptions,
  RecordedEntry,
  RecordedHandle,
  RecordingMcpServer,
  RecordingServer,
  RecordingServerOptions,
} from './recording/recording-server.js';
export { captureRegistrations, createRecordingServer, routeToRecording } from './recording/recording-server.js';
