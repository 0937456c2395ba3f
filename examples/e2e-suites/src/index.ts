export type { AuditEvent } from './audit.js';
export { auditEvents, loadFailed, waitForAudit } from './audit.js';
export { controlSuite } from './control-suite.js';
export type { ExampleClient, ExampleSession, ExampleUnderTest, LogParams, Sandbox } from './example.js';
export { existingServerSuite } from './existing-server-suite.js';
export { stdoutGuardSuite } from './stdout-guard-suite.js';
export { stdoutSuite } from './stdout-suite.js';
