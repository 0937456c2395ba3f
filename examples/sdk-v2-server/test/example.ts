import type { ExampleUnderTest, LogParams } from '@hotmcp/example-e2e-suites';
import type { Client } from '@modelcontextprotocol/client';
import { callText, connect, createSandbox, serverEntry } from '../src/harness.js';
import { greetTool } from './support.js';

/** This example as the shared suites of `@hotmcp/example-e2e-suites` run it. */
export const example: ExampleUnderTest<Client> = {
  sdk: 'SDK v2',
  serverEntry,
  protocolVersion: '2025-11-25',
  createSandbox,
  connect: (sandbox, env) => connect(sandbox, { env }),
  callText,
  onLogMessage(client, handler) {
    client.setNotificationHandler('notifications/message', async (notification) => {
      handler(notification.params as LogParams);
    });
  },
  greetTool,
  otherModules: [{ file: 'greeting.ts', tools: [], prompts: ['greeting'], resources: [], failed: false }],
};
