import 'reflect-metadata';

export { createContainer, registerClass, registerFactory, registerValue, resolveToken } from './container.js';
export type { AnyDefinition, DefinitionKind, InferArgs, ToolConfig, ToolDefinition, ToolResult } from './define.js';
export { defineTool, definitionKey, isDefinition } from './define.js';
export type { ErrorLocation, HotMcpErrorCode, HotMcpErrorOptions } from './errors.js';
export { HotMcpError, isHotMcpError } from './errors.js';
export type { AuditFields, AuditSink } from './ports/audit-sink.js';
export type { ChangeBatch, ChangeSource, ChangeSourceOptions } from './ports/change-source.js';
export type { LoadResult, ModuleLoader } from './ports/module-loader.js';
export type {
  CommitResult,
  PreparedChange,
  RegistryChange,
  RegistryEntryRef,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from './ports/tool-registry-adapter.js';
export type { ReloaderSettings, Token } from './tokens.js';
export { TOKENS } from './tokens.js';
