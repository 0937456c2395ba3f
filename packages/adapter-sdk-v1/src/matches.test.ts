import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { createAdapter, matches, SdkV1Adapter } from './index.js';

describe('matches', () => {
  it('recognises an McpServer of @modelcontextprotocol/sdk 1.x', () => {
    expect(matches(new McpServer({ name: 's', version: '1' }))).toBe(true);
  });

  it('refuses an McpServer of @modelcontextprotocol/server 2.x, and what is no McpServer', () => {
    expect(matches(new V2McpServer({ name: 's', version: '1' }))).toBe(false);
    expect(matches({ registerTool() {}, tool() {} })).toBe(false);
    expect(matches(undefined)).toBe(false);
  });

  it('is paired with createAdapter, which createReloader calls on a match', () => {
    const server = new McpServer({ name: 's', version: '1' }, { capabilities: { tools: { listChanged: true } } });
    expect(createAdapter(server)).toBeInstanceOf(SdkV1Adapter);
  });
});
