import 'reflect-metadata';

export { MemoryAuditSink } from './audit/memory-audit-sink.js';
export type { WinstonAuditSinkOptions } from './audit/winston-audit-sink.js';
export { createWinstonAuditSink, WinstonAuditSink } from './audit/winston-audit-sink.js';
export { createContainer, registerClass, registerFactory, registerValue, resolveToken } from './container.js';
export type { CreateReloaderOptions, Reloader } from './create-reloader.js';
export { createReloader, createReloaderFromContainer, resolveSettings } from './create-reloader.js';
export type { AnyDefinition, DefinitionKind, InferArgs, ToolConfig, ToolDefinition, ToolResult } from './define.js';
export { defineTool, definitionKey, isDefinition } from './define.js';
export { ReloadEngine } from './engine/reload-engine.js';
export type { BatchReport, ModuleErrorReport, ReloaderStatus } from './engine/status.js';
export type { ErrorLocation, HotMcpErrorCode, HotMcpErrorOptions } from './errors.js';
export { HotMcpError, isHotMcpError } from './errors.js';
export { hotReloadStatus, startHotReload, stopHotReload } from './hot-reload.js';
export { NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
export type { AuditFields, AuditSink } from './ports/audit-sink.js';
export type { ChangeBatch, ChangeSource, ChangeSourceOptions } from './ports/change-source.js';
export type { LoadResult, ModuleLoader } from './ports/module-loader.js';
export type {
  CommitResult,
  ListKind,
  PreparedChange,
  RegistryChange,
  RegistryEntryRef,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from './ports/tool-registry-adapter.js';
export type { ReloaderSettings, Token } from './tokens.js';
export { TOKENS } from './tokens.js';
