import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { createAdapter, matches, SdkV2Adapter } from './index.js';

describe('matches', () => {
  it('recognises an McpServer of @modelcontextprotocol/server 2.x', () => {
    expect(matches(new McpServer({ name: 's', version: '1' }))).toBe(true);
  });

  it('refuses an McpServer of @modelcontextprotocol/sdk 1.x, and what is no McpServer', () => {
    expect(matches(new V1McpServer({ name: 's', version: '1' }))).toBe(false);
    expect(matches({ registerTool() {}, server: { getNegotiatedProtocolVersion() {} } })).toBe(false);
    expect(matches(null)).toBe(false);
  });

  it('is paired with createAdapter, which createReloader calls on a match', () => {
    const server = new McpServer({ name: 's', version: '1' }, { capabilities: { tools: { listChanged: true } } });
    expect(createAdapter(server)).toBeInstanceOf(SdkV2Adapter);
  });
});
