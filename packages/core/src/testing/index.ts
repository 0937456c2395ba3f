export { MemoryAuditSink } from '../audit/memory-audit-sink.js';
export type {
  AdapterConformanceHarness,
  ConformanceCallResult,
  ConformanceSession,
} from './adapter-conformance.js';
export { adapterConformance } from './adapter-conformance.js';
export type { ChangeSourceConformanceOptions } from './change-source-conformance.js';
export { changeSourceConformance } from './change-source-conformance.js';
export { FakeChangeSource } from './fake-change-source.js';
export { FakeModuleLoader } from './fake-module-loader.js';
export { FakeRegistryAdapter } from './fake-registry-adapter.js';
export type { WaitUntilOptions } from './wait-until.js';
export { waitUntil } from './wait-until.js';
