import { Module } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { VERSION_PARAM } from './esm-hooks.js';
import type { Namespace } from './runner-module.js';

// One counter for the process, so every compiled version has its own file name (and source map).
let nextVersion = 0;
// The CommonJS module a version was compiled in: Node keeps its source map only while it lives.
const compiledIn = new WeakMap<Namespace, Module>();

// V8 (Node 22 and later) keeps every compiled source in its compilation cache,
// and only a last-resort GC empties it: a version compiled there would never be
// freed, and a long-lived server reloading its tools runs out of memory. The
// cache is switched off for the runner's own compilations only, and only if the
// process did not switch it off itself.
const switchCompilationCache = !`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes(
  'no-compilation-cache',
);

// Compiling a version allocates fast: V8 then grows the young generation up to its maximum
// (32 MB on Node 20, 48 MB on Node 24), and keeps it resident after every GC, for good. Growth is
// switched off, unless the process sized its young generation itself.
const nodeOptions = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
const youngGenerationSized = /semi-space-(size|growth)/.test(nodeOptions.replaceAll('_', '-'));

/**
 * Switch the young generation's growth off (unless the process sized it
 * itself). Done at every compilation and whenever a worker thread has
 * started: starting a worker resets V8's growth factor on Node 20.
 */
export function pinYoungGeneration(): void {
  if (!youngGenerationSized) setFlagsFromString('--semi-space-growth-factor=1');
}

/** Compile and run `code` as a CommonJS module named `filename` (outside V8's compilation cache). */
export function compileCommonJs(code: string, filename: string): Module {
  pinYoungGeneration();
  const module = new Module(filename);
  module.filename = filename;
  if (switchCompilationCache) setFlagsFromString('--no-compilation-cache');
  try {
    (module as unknown as { _compile(code: string, filename: string): void })._compile(code, filename);
  } finally {
    if (switchCompilationCache) setFlagsFromString('--compilation-cache');
  }
  return module;
}

/**
 * Compile one version of `file` under a file name of its own, kept alive (with
 * its source map) as long as the version's `namespace` is.
 */
export function compileVersion(file: string, code: string, namespace: Namespace): Module {
  const compiled = compileCommonJs(code, `${file}?${VERSION_PARAM}=${++nextVersion}`);
  compiledIn.set(namespace, compiled);
  return compiled;
}

let sourceMaps = false;
/** Stack traces of compiled modules point at their `.ts` lines: Node maps them once this is on. */
export function enableSourceMaps(): void {
  if (sourceMaps) return;
  sourceMaps = true;
  process.setSourceMapsEnabled(true);
}
