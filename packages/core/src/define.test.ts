import { describe, expect, it } from 'vitest';
import { defineResource, defineTool, keyOf, registryName } from './define.js';

const read = () => ({ contents: [] });

describe('keyOf and registryName', () => {
  it('key a definition and a reference to the same entry alike, fixed resources by normalised URI', () => {
    const resource = defineResource({ name: 'Readme', uri: 'HTTPS://Example.COM/docs/../readme', handler: read });
    expect(registryName(resource)).toBe('https://example.com/readme');
    expect(keyOf(resource)).toBe('resource:https://example.com/readme');
    expect(keyOf({ kind: 'resource', name: 'https://EXAMPLE.com/./readme' })).toBe(keyOf(resource));
    const tool = defineTool({ name: 'echo', handler: () => ({ content: [] }) });
    expect(keyOf(tool)).toBe(keyOf({ kind: 'tool', name: 'echo' }));
    expect(keyOf({ kind: 'prompt', name: 'echo' })).not.toBe(keyOf(tool));
  });

  it('leave a reference whose resource name is not a URL as it is', () => {
    expect(registryName({ kind: 'resource', name: 'not a url' })).toBe('not a url');
  });
});
