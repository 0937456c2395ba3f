import 'reflect-metadata';

export { assertAdapter, SUPPORTED_CONTRACT_VERSIONS } from './adapter-contract.js';
export type { WinstonAuditSinkOptions } from './audit/winston-audit-sink.js';
export { createWinstonAuditSink, WinstonAuditSink } from './audit/winston-audit-sink.js';
export { createContainer, registerClass, registerFactory, registerValue, resolveToken } from './container.js';
export type { ControlInfo } from './control/client-view.js';
export { clientMessage, clientPath, failureReason } from './control/client-view.js';
export type { Reloader, ReloaderFromContainerOptions } from './create-reloader.js';
export { createReloader, createReloaderFromContainer } from './create-reloader.js';
export type {
  AnyDefinition,
  DefinitionKind,
  FixedResourceConfig,
  InferArgs,
  PromptConfig,
  PromptDefinition,
  PromptResult,
  RegistryEntry,
  ResourceDefinition,
  ResourceResult,
  ResourceTemplateDefinition,
  TemplateResourceConfig,
  ToolConfig,
  ToolDefinition,
  ToolResult,
} from './define.js';
export {
  definePrompt,
  defineResource,
  defineTool,
  isDefinition,
  keyOf,
  listOf,
  normaliseUri,
  registryName,
} from './define.js';
export { definitionProblem } from './engine/definitions.js';
export type { ReloadEngine } from './engine/reload-engine.js';
export type {
  BatchReport,
  ModuleErrorReport,
  ModuleReport,
  ReloaderStatus,
  ReloadFailure,
  RescanReport,
} from './engine/status.js';
export type { ErrorLocation, HotMcpErrorCode, HotMcpErrorOptions } from './errors.js';
export { HotMcpError, isHotMcpError } from './errors.js';
export { hotReloadStatus, startHotReload, stopHotReload } from './hot-reload.js';
export type { NativeEsmLoaderSettings } from './loader/native-esm-module-loader.js';
export { NativeEsmModuleLoader } from './loader/native-esm-module-loader.js';
export { precompileModule } from './loader/precompile.js';
export type { PreflightOption } from './loader/preflight.js';
export type { RunnerLoaderSettings } from './loader/runner-module-loader.js';
export { RunnerModuleLoader } from './loader/runner-module-loader.js';
export type { AdapterDiscovery, AdapterPackage, PackageImporter } from './package-discovery.js';
export { ADAPTER_PACKAGES, discoverAdapter } from './package-discovery.js';
export type { AuditFields, AuditSink } from './ports/audit-sink.js';
export type {
  ChangeBatch,
  ChangeSource,
  ChangeSourceOptions,
  ChangeSourceStatus,
  FileListing,
  ModuleCompilation,
} from './ports/change-source.js';
export type { LoadNotice, LoadOptions, LoadResult, ModuleLoader } from './ports/module-loader.js';
export type {
  CaptureOptions,
  CaptureResult,
  ClientLogMessage,
  CommitResult,
  ListKind,
  PreparedChange,
  RegisterFunction,
  RegistryChange,
  RegistryEntryRef,
  RegistrySnapshot,
  ToolRegistryAdapter,
} from './ports/tool-registry-adapter.js';
export type { FanOutAdapterOptions } from './registry/fan-out-registry-adapter.js';
export { createFanOutAdapter, FanOutRegistryAdapter } from './registry/fan-out-registry-adapter.js';
export { PacedQueue, type PacedQueueOptions } from './registry/paced-queue.js';
export type { CreateReloaderOptions, LoaderKind } from './reloader-options.js';
export { resolveSettings } from './reloader-options.js';
export { guardStdout, isStdoutGuarded, restoreStdout } from './stdio/guard-stdout.js';
export type { ReloaderSettings, Token } from './tokens.js';
export { TOKENS } from './tokens.js';
export { isToolName, TOOL_NAME_PATTERN, TOOL_NAME_RULE } from './tool-name.js';
export type { CoalesceTimings, CoalescingChangeSourceOptions } from './watching/coalescing-change-source.js';
export { CoalescingChangeSource, createCoalescingChangeSource } from './watching/coalescing-change-source.js';
export type { FallbackChangeSourceOptions, FallbackEvent } from './watching/fallback-change-source.js';
export { createFallbackChangeSource, FallbackChangeSource } from './watching/fallback-change-source.js';
export type {
  ChangeSourceSelection,
  NativeWatcherModule,
  PollWatcherModule,
  WatcherKind,
  WatcherModules,
} from './watching/select-change-source.js';
export { selectChangeSource } from './watching/select-change-source.js';
