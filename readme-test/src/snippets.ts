/**
 * The code blocks of a Markdown file that a reader is told to copy: each is a
 * fenced block right after a `<!-- readme-snippet: name -->` comment.
 */
export function readmeSnippets(markdown: string): Map<string, string> {
  const snippets = new Map<string, string>();
  const marker = /<!-- readme-snippet: ([\w-]+) -->\r?\n(`{3,})[^\n]*\r?\n([\s\S]*?)\r?\n\2[ \t]*(?:\r?\n|$)/g;
  for (const [, name, , code] of markdown.matchAll(marker)) {
    if (name === undefined || code === undefined) continue;
    if (snippets.has(name)) throw new Error(`README snippet ${name} is marked twice`);
    snippets.set(name, `${code}\n`);
  }
  const markers = markdown.match(/<!-- readme-snippet:/g)?.length ?? 0;
  if (markers !== snippets.size) {
    throw new Error(`${markers} readme-snippet markers but ${snippets.size} fenced blocks right after one`);
  }
  return snippets;
}

/** The tarball names a Markdown file tells readers to install (`.packs/hotmcp-{core,watcher-poll}.tgz` expanded). */
export function tarballsNamed(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const [, prefix, alternatives, suffix] of markdown.matchAll(
    /\.packs\/([\w-]*)(?:\{([\w,-]+)\})?([\w-]*)\.tgz/g,
  )) {
    for (const middle of alternatives?.split(',') ?? ['']) names.add(`${prefix}${middle}${suffix}.tgz`);
  }
  return names;
}
