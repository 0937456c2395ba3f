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
export { stableJson } from './stable-json.js';
