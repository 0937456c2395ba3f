export { MemoryAuditSink } from '../audit/memory-audit-sink.js';
export { FakeChangeSource } from './fake-change-source.js';
export { FakeModuleLoader } from './fake-module-loader.js';
export { FakeRegistryAdapter } from './fake-registry-adapter.js';
