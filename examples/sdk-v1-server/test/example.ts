import type { ExampleUnderTest, LogParams } from '@hotmcp/example-e2e-suites';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { callText, connect, createSandbox, serverEntry } from '../src/harness.js';
import { greetTool } from './support.js';

/** This example as the shared suites of `@hotmcp/example-e2e-suites` run it. */
export const example: ExampleUnderTest<Client> = {
  sdk: 'SDK v1',
  serverEntry,
  protocolVersion: '2025-06-18',
  createSandbox,
  connect: (sandbox, env) => connect(sandbox, env),
  callText,
  onLogMessage(client, handler) {
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (notification) => {
      handler(notification.params as LogParams);
    });
  },
  greetTool,
  otherModules: [],
};
