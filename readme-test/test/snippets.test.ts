import { describe, expect, it } from 'vitest';
import { readmeSnippets, tarballsNamed } from '../src/snippets.js';

describe('readmeSnippets', () => {
  it('takes the fenced block right after each marker, verbatim', () => {
    const markdown =
      'text\n\n<!-- readme-snippet: one -->\n```ts\nconst a = 1;\n\nconst b = 2;\n```\n\n```ts\nnot marked\n```\n';
    expect([...readmeSnippets(markdown)]).toEqual([['one', 'const a = 1;\n\nconst b = 2;\n']]);
  });

  it('fails on a marker with no fenced block right after it, and on a name marked twice', () => {
    expect(() => readmeSnippets('<!-- readme-snippet: lost -->\n\ntext\n```ts\nx\n```\n')).toThrow(
      /1 readme-snippet markers but 0/,
    );
    const twice = '<!-- readme-snippet: a -->\n```ts\nx\n```\n<!-- readme-snippet: a -->\n```ts\ny\n```\n';
    expect(() => readmeSnippets(twice)).toThrow(/marked twice/);
  });
});

describe('tarballsNamed', () => {
  it('expands brace lists', () => {
    expect([
      ...tarballsNamed('npm install "$HOTMCP"/.packs/hotmcp-{core,watcher-poll}.tgz .packs/hotmcp-x.tgz'),
    ]).toEqual(['hotmcp-core.tgz', 'hotmcp-watcher-poll.tgz', 'hotmcp-x.tgz']);
  });
});
