import type { CaptureOptions, CaptureResult, RegisterFunction } from '@hotmcp/core';
import { captureRegistrations } from './recording-server.js';

/**
 * `ToolRegistryAdapter.capture` for an McpServer-shaped adapter: run a
 * module's register function on a recording server that attributes each
 * registration to a file under the watched root, refuses `connect()`, and
 * forwards run-time calls (`sendLoggingMessage`, `server.createMessage`…) to
 * `server`, the live one.
 */
export async function captureOnServer(
  server: object,
  register: RegisterFunction,
  options: CaptureOptions,
): Promise<CaptureResult> {
  const recording = await captureRegistrations(register, {
    attribute: options.root,
    forward: server,
    connect: 'refuse',
    signal: options.signal,
  });
  return { definitions: recording.definitions() };
}
