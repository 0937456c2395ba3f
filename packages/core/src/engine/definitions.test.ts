import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { definePrompt, defineResource, defineTool } from '../define.js';
import { HotMcpError } from '../errors.js';
import { definitionLine, extractDefinitions, withDefinitionLine } from './definitions.js';

const here = fileURLToPath(import.meta.url);
const handler = () => ({ content: [] });
/** The line of this file that carries the comment `// made: <mark>`. */
const lineOf = (mark: string) =>
  readFileSync(here, 'utf8')
    .split('\n')
    .findIndex((line) => line.endsWith(`// made: ${mark}`)) + 1;

describe('where a definition was made', () => {
  it('is the line of the defineTool(), definePrompt() or defineResource() call in the module', () => {
    const tool = defineTool({ name: 'a', handler }); // made: tool
    const prompt = definePrompt({ name: 'p', handler: () => ({ messages: [] }) }); // made: prompt
    const resource = defineResource({ name: 'r', uri: 'a://r', handler: () => ({ contents: [] }) }); // made: resource
    expect([tool, prompt, resource].map((definition) => definitionLine(definition, here))).toEqual([
      lineOf('tool'),
      lineOf('prompt'),
      lineOf('resource'),
    ]);
    expect(definitionLine(tool, '/elsewhere/tool.ts')).toBeUndefined();
    expect(definitionLine({ name: 'a', handler }, here)).toBeUndefined();
  });

  it('goes on an error about the definition that has no line yet, and only then', () => {
    const tool = defineTool({ name: 'a', handler }); // made: refused
    const refused = new HotMcpError('HOTMCP_ERR_INVALID_DEFINITION', 'no', { details: { name: 'a' } });
    expect(withDefinitionLine(refused, tool, here)).toMatchObject({
      file: here,
      line: lineOf('refused'),
      details: { name: 'a' },
    });
    const located = new HotMcpError('HOTMCP_ERR_SYNTAX', 'no', { file: here, line: 3 });
    expect(withDefinitionLine(located, tool, here)).toBe(located);
  });

  it('is reported for a module exporting one name twice: the second definition', () => {
    const first = defineTool({ name: 'twice', handler });
    const second = defineTool({ name: 'twice', handler }); // made: second
    expect(() => extractDefinitions(here, { first, second })).toThrow(
      expect.objectContaining({ code: 'HOTMCP_ERR_DUPLICATE_NAME', file: here, line: lineOf('second') }),
    );
  });
});
