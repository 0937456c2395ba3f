export { McpServerRegistryAdapter } from './mcp-server-registry-adapter.js';
export type {
  Callback,
  ListCapabilities,
  LowLevelServerLike,
  McpServerLike,
  RegisteredEntryLike,
  Registry,
} from './mcp-server-shape.js';
export { isMcpServerLike } from './mcp-server-shape.js';
export { readPackageVersion } from './package-version.js';
export type { SchemaField } from './prepared-entry.js';
export type { Attribution, CallSite } from './recording/call-site.js';
export { captureOnServer } from './recording/capture.js';
export type {
  CaptureRegistrationsOptions,
  RecordedEntry,
  RecordedHandle,
  RecordingMcpServer,
  RecordingServer,
  RecordingServerOptions,
} from './recording/recording-server.js';
export { captureRegistrations, createRecordingServer, routeToRecording } from './recording/recording-server.js';
export { stableJson } from './stable-json.js';
