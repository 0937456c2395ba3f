/**
 * Turns one ES module (TypeScript or JavaScript) into code the runner can
 * evaluate in its own registry: esbuild rewrites `import`/`export` into
 * CommonJS-style `require()` calls and getters (so imported bindings stay
 * live), and the result is wrapped in an async generator that runs in two
 * steps, like an ES module: the first `next()` only defines the exports'
 * getters (so an import cycle sees hoisted functions, and `let`/`const` in
 * their temporal dead zone), the second runs the body, top-level `await`
 * included.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Loader, Message, TransformOptions, TransformResult, TsconfigRaw } from 'esbuild';
import { getTsconfig } from 'get-tsconfig';
import type { ModuleCompilation } from '../ports/change-source.js';
import { type CompileCache, hashOf } from './compile-cache.js';

/** The names the wrapper gives the module's view of the runner. None may clash with user code. */
export const WRAPPER_PARAMS = ['module', 'require', '__hm$meta', '__hm$i'] as const;
const META = '__hm$meta';
/** Replaces the 6 characters of a dynamic `import` keyword, so source-map columns stay put. */
const DYNAMIC_IMPORT = '__hm$i';

/** esbuild refuses top-level await in CommonJS output; these same-length stand-ins get it through. */
// Unary operator chains, like `await`; `~` has no binary form, so ASI is unchanged. The first the
// module's text does not hold is used, so a string holding one is never taken for an `await`.
const AWAIT_MARKS = ['~-~-~', '~+~+~', '~~-~~', '~~+~~', '~-~+~', '~+~-~', '~~~-~', '~~~+~'];
const FOR_AWAIT_LABEL = '$fa$';
const FOR_AWAIT_RESTORE = /\$fa\$:\s*for\s*\(/g;
const TLA_ERROR = 'Top-level await is currently not supported';

const LOADERS: Record<string, Loader> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.jsx': 'jsx',
};

export interface TransformedModule {
  /** CommonJS source for `Module#_compile`: it assigns the module's async generator to `module.exports`. */
  code: string;
  /** The static import specifiers that survived compilation (type-only and unused imports are gone), in order. */
  imports: string[];
  /** What the compilation could not do as the module's tsconfig.json asks (said once per tsconfig). */
  notice?: CompileNotice;
  /** The compilation is one given with the batch (see {@link precompile}). */
  precompiled?: boolean;
}

/** Something a module's tsconfig.json asks for that the compilation does not do. */
export interface CompileNotice {
  code: 'HOTMCP_WARN_DECORATOR_METADATA';
  /** The tsconfig.json that asks for it. */
  file: string;
  message: string;
}

/**
 * The compiler options of a tsconfig.json that change what esbuild emits
 * (legacy decorators, class fields, JSX). The rest (paths, target, module
 * kind, strictness) is left to the runner, which resolves imports as Node
 * does and compiles for the running Node.
 */
const HONOURED_OPTIONS = ['experimentalDecorators', 'useDefineForClassFields', 'jsxFactory', 'jsxFragmentFactory'];
/** JSX modes that produce code Node can run (`preserve` and `react-native` leave JSX in place). */
const JSX_MODES = new Set(['react', 'react-jsx', 'react-jsxdev']);

/**
 * What get-tsconfig found looking for the tsconfig.json files of the modules
 * of one batch: shared by their compilations, so each folder is looked up once.
 */
export type TsconfigCache = Map<string, unknown>;

interface ModuleTsconfig {
  raw: TsconfigRaw;
  notice?: CompileNotice;
}

/**
 * What the tsconfig.json nearest to `file` (in its folder or one above,
 * `extends` followed) says about compiling it, as esbuild takes it. Read at
 * each compilation (a module is compiled again only when its text changed),
 * once per folder for a batch given one `cache`.
 */
function tsconfigOf(file: string, cache?: TsconfigCache): ModuleTsconfig | undefined {
  if (cache === undefined) return readTsconfig(file);
  // get-tsconfig's cache keeps the files it read, not the folders it found none in: each lookup walks up to the
  // root again (200 modules of one folder: ~9 ms). One lookup per folder here.
  let folders = foldersOf.get(cache);
  if (folders === undefined) {
    folders = new Map();
    foldersOf.set(cache, folders);
  }
  const folder = dirname(file);
  if (!folders.has(folder)) folders.set(folder, readTsconfig(file, cache));
  return folders.get(folder);
}

/** Per batch (its get-tsconfig cache): what each folder's modules compile with. */
const foldersOf = new WeakMap<TsconfigCache, Map<string, ModuleTsconfig | undefined>>();

function readTsconfig(file: string, cache?: TsconfigCache): ModuleTsconfig | undefined {
  let found: ReturnType<typeof getTsconfig>;
  try {
    found = getTsconfig(dirname(file), 'tsconfig.json', cache);
  } catch {
    return undefined; // a tsconfig.json that cannot be read: compiled with esbuild's defaults, as without one
  }
  const options = found?.config.compilerOptions;
  if (!found || !options) return undefined;
  const compilerOptions: Record<string, unknown> = {};
  for (const name of HONOURED_OPTIONS) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined) compilerOptions[name] = value;
  }
  if (typeof options.jsx === 'string' && JSX_MODES.has(options.jsx)) {
    compilerOptions.jsx = options.jsx;
    if (options.jsxImportSource !== undefined) compilerOptions.jsxImportSource = options.jsxImportSource;
  }
  const metadata = options.emitDecoratorMetadata === true && options.experimentalDecorators === true;
  return {
    raw: { compilerOptions } as TsconfigRaw,
    ...(metadata && {
      notice: {
        code: 'HOTMCP_WARN_DECORATOR_METADATA',
        file: found.path,
        message: `${found.path} sets emitDecoratorMetadata, which esbuild (what hotmcp compiles tool modules with) does not emit: decorators see no design:type or design:paramtypes metadata there. Pass what a decorator needs explicitly (an injection token, say). experimentalDecorators is honoured.`,
      },
    }),
  };
}

/** esbuild's API, loaded on the first compilation: a start whose modules all come from the compile cache never needs it. */
let esbuild: Promise<typeof import('esbuild')> | undefined;
function transform(source: string, options: TransformOptions): Promise<TransformResult> {
  esbuild ??= import('esbuild');
  return esbuild.then((module) => module.transform(source, options));
}

/** es-module-lexer, loaded (and its WebAssembly compiled) when a module needs it: most never do. */
let lexer: Promise<typeof import('es-module-lexer')> | undefined;
function loadLexer(): Promise<typeof import('es-module-lexer')> {
  lexer ??= import('es-module-lexer').then(async (module) => {
    await module.init;
    return module;
  });
  return lexer;
}

/**
 * Start esbuild's service process ahead of the first compilation, so a
 * reloader's first batch does not wait for it. Never rejects.
 */
export async function warmUpTransform(): Promise<void> {
  await transform('', { loader: 'js', logLevel: 'silent' }).catch(() => {});
}

/**
 * Text that may make a line of the CommonJS output look like one of esbuild's
 * `require()` lines without being one: the word itself (a template literal
 * holding such a line, the module's own `require`), or an escape that esbuild
 * may print as it. A module without any is compiled once; one with some, twice.
 */
const REQUIRE_LOOKALIKE = /require|\\[ux]/;

let compiler: string | undefined;
/**
 * What makes this compiler's output what it is: this code, esbuild's version
 * and the Node major compiled for. A compile cache written by another holds
 * nothing for this one.
 */
export function compilerId(): string {
  compiler ??= hashOf(
    readFileSync(fileURLToPath(import.meta.url), 'utf8'),
    (createRequire(import.meta.url)('esbuild/package.json') as { version: string }).version,
    process.versions.node.split('.')[0]!,
  );
  return compiler;
}

/**
 * Compile `source` (the text of `file`) for the runner, or take the
 * compilation `store` kept of the same text and tsconfig options. Rejects
 * with esbuild's error (its message names `file:line:column`) on a syntax
 * error.
 */
export async function transformModule(
  file: string,
  source: string,
  cache?: TsconfigCache,
  store?: CompileCache,
  given?: ModuleCompilation,
): Promise<TransformedModule> {
  const tsconfig = tsconfigOf(file, cache);
  const notice = tsconfig?.notice && { notice: tsconfig.notice };
  const key = (store || given) && keyOf(tsconfig, source);
  if (given && given.compiler === compilerId() && given.key === key && validCompilation(given)) {
    const taken = { code: given.code, imports: given.imports };
    store?.set(file, key, taken);
    return { ...taken, ...notice, precompiled: true };
  }
  const kept = key === undefined ? undefined : store?.get(file, key);
  if (kept) return { ...kept, ...notice };
  const compiled = await compile(file, source, tsconfig);
  if (key !== undefined) store?.set(file, key, compiled);
  return { ...compiled, ...notice };
}

/** What a compilation of `source` with `tsconfig`'s options is keyed by. */
function keyOf(tsconfig: ModuleTsconfig | undefined, source: string): string {
  return hashOf(JSON.stringify(tsconfig?.raw ?? null), source);
}

/** A compilation handed over from outside (a stream entry, decoded from JSON) has the shape the runner runs. */
function validCompilation(given: ModuleCompilation): boolean {
  return (
    typeof given.code === 'string' &&
    given.code.startsWith('module.exports = (async function* (') &&
    Array.isArray(given.imports) &&
    given.imports.every((specifier) => typeof specifier === 'string')
  );
}

/**
 * Compile `source` as the runner compiles the module at `file` (the
 * tsconfig.json options found from there), for a runner loader elsewhere to
 * run instead of compiling it again (see `ChangeBatch.compiled`): its source
 * map names the file by its base name, which Node resolves against wherever
 * the module runs. Rejects with esbuild's error on a syntax error.
 */
export async function precompile(file: string, source: string): Promise<ModuleCompilation> {
  const tsconfig = tsconfigOf(file);
  const compiled = await compile(file, source, tsconfig, basename(file));
  return { compiler: compilerId(), key: keyOf(tsconfig, source), ...compiled };
}

async function compile(
  file: string,
  source: string,
  tsconfig: ModuleTsconfig | undefined,
  sourcefile = file,
): Promise<Omit<TransformedModule, 'notice'>> {
  const [cjs, esm] = await Promise.all([
    toCommonJs(file, source, tsconfig, sourcefile),
    REQUIRE_LOOKALIKE.test(source) ? toEsmImports(file, source, tsconfig) : undefined,
  ]);
  // Static imports are `require` calls now: code without the word holds no dynamic import (a keyword has no escapes).
  let code = /\bimport\b/.test(cjs) ? await rewriteDynamicImports(cjs) : cjs;
  // A hashbang (`#!/usr/bin/env node`, a server's bin entry) is kept by esbuild on the first line: valid only at the
  // start of a file, not inside the wrapper below. Made a comment, so the lines keep their numbers.
  if (code.startsWith('#!')) code = `//${code.slice(2)}`;
  const imports = staticImports(code, esm);
  code = patchHelpers(code);
  // On the first line, so every later line keeps its number and the source map holds. In parentheses: V8 then
  // compiles the module's body with the wrapper (it is called at once) rather than pre-parsing it there and
  // parsing it again on that call: 10–15% less compile time per module.
  code = `module.exports = (async function* (${WRAPPER_PARAMS.join(', ')}) {"use strict";${code}\n});`;
  return { code, imports };
}

function options(file: string, tsconfig: ModuleTsconfig | undefined, sourcefile = file) {
  return {
    ...(tsconfig && { tsconfigRaw: tsconfig.raw }),
    loader: LOADERS[extname(file)] ?? 'js',
    format: 'cjs',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    // Stack traces need the mappings only (Node reads a frame's line from the file when a map has no text):
    // without the module's text in it, a small tool module's map is 44% smaller, and so is what Node decodes.
    sourcesContent: false,
    sourcefile,
    define: { 'import.meta': META },
    logLevel: 'silent',
  } as const;
}

/**
 * The static import specifiers of `source`, parsed (by es-module-lexer) from
 * esbuild's ES module output, which drops the same type-only and unused
 * imports as its CommonJS output: what tells a real `require()` line of the
 * CommonJS output from text that only looks like one (in a template literal).
 */
async function toEsmImports(
  file: string,
  source: string,
  tsconfig: ModuleTsconfig | undefined,
): Promise<Set<string> | undefined> {
  try {
    const { code } = await transform(source, { ...options(file, tsconfig), format: 'esm', sourcemap: false });
    const [imports] = (await loadLexer()).parse(code);
    return new Set(imports.flatMap((entry) => (entry.d === -1 && entry.n !== undefined ? [entry.n] : [])));
  } catch {
    return undefined; // the CommonJS compilation reports the syntax error
  }
}

async function toCommonJs(
  file: string,
  source: string,
  tsconfig: ModuleTsconfig | undefined,
  sourcefile: string,
): Promise<string> {
  try {
    return (await transform(source, options(file, tsconfig, sourcefile))).code;
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors ?? [];
    if (errors.length === 0 || !errors.every((message) => message.text.startsWith(TLA_ERROR))) throw error;
    const mark = AWAIT_MARKS.find((candidate) => !source.includes(candidate));
    const marked = mark === undefined ? undefined : markTopLevelAwaits(source, errors, mark);
    if (marked === undefined) throw error;
    const code = (await transform(marked.source, options(file, tsconfig, sourcefile))).code;
    return unmarkTopLevelAwaits(code, marked);
  }
}

interface Marked {
  source: string;
  mark: string;
  awaits: number;
  forAwaits: number;
}

/** Replace each top-level `await` esbuild reported with a same-length stand-in it accepts in CommonJS. */
function markTopLevelAwaits(source: string, errors: Message[], mark: string): Marked | undefined {
  const lineStarts = [0];
  for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  let text = source;
  let awaits = 0;
  let forAwaits = 0;
  for (const { location } of errors) {
    if (!location) return undefined;
    const lineStart = lineStarts[location.line - 1];
    if (lineStart === undefined) return undefined;
    // esbuild's columns count UTF-8 bytes.
    const prefix = Buffer.from(location.lineText, 'utf8').subarray(0, location.column).toString('utf8');
    const at = lineStart + prefix.length;
    if (text.slice(at, at + 5) !== 'await') return undefined;
    const forLoop = /\bfor[ \t]+$/.exec(text.slice(Math.max(0, at - 16), at));
    if (forLoop) {
      // `for await (` becomes a labelled `for (`: same length, restored after compilation.
      const start = at - forLoop[0].length;
      const replacement = `${FOR_AWAIT_LABEL}:for`.padEnd(at + 5 - start);
      text = text.slice(0, start) + replacement + text.slice(at + 5);
      forAwaits++;
    } else {
      text = text.slice(0, at) + mark + text.slice(at + 5);
      awaits++;
    }
  }
  return { source: text, mark, awaits, forAwaits };
}

function unmarkTopLevelAwaits(code: string, marked: Marked): string {
  let awaits = 0;
  let forAwaits = 0;
  const restored = code
    .replaceAll(marked.mark, () => {
      awaits++;
      return 'await ';
    })
    .replace(FOR_AWAIT_RESTORE, () => {
      forAwaits++;
      return 'for await (';
    });
  if (awaits !== marked.awaits || forAwaits !== marked.forAwaits) {
    throw new Error('hotmcp: could not compile the top-level await of this module; use the native loader for it');
  }
  return restored;
}

/** `import(x)` → `__hm$i(x)`: the runner resolves it, so a local module comes from the runner's registry. */
async function rewriteDynamicImports(code: string): Promise<string> {
  const [imports] = (await loadLexer()).parse(code);
  let out = code;
  for (const entry of imports) {
    if (entry.d < 0 || !out.startsWith('import', entry.ss)) continue; // static, import.meta
    out = out.slice(0, entry.ss) + DYNAMIC_IMPORT + out.slice(entry.ss + 6);
  }
  return out;
}

// esbuild's own output for imports: `var x = require("s");`, `var x = __toESM(require("s"));`,
// `require("s");` and `__reExport(x_exports, require("s"), module.exports);`, each on its own line.
const REQUIRE_LINE = /^(?:var [\w$]+ = )?(?:__reExport\([\w$]+, )?(?:__toESM\()?require\(("(?:[^"\\\n]|\\.)*")/gm;

function staticImports(code: string, parsed: ReadonlySet<string> | undefined): string[] {
  const found = new Set<string>();
  for (const match of code.matchAll(REQUIRE_LINE)) {
    const specifier = JSON.parse(match[1] as string) as string;
    if (parsed === undefined || parsed.has(specifier)) found.add(specifier);
  }
  return [...found];
}

const EXPORTS_LINE = /^module\.exports = __toCommonJS\(([\w$]+)\);$/m;
const TO_ESM = 'var __toESM = (mod, isNodeMode, target) => (';

/**
 * - The module's exports object is the runner's namespace (`module.exports`),
 *   and the line that would copy it becomes the pause between the two steps.
 * - `__toESM` hands a module namespace through unchanged: `import * as ns`
 *   gets the very namespace object, and `import x from` its `default`, as in
 *   Node (esbuild's CommonJS interop would copy it, or take the whole
 *   namespace as the default in a `.mts` file).
 */
function patchHelpers(code: string): string {
  let out = code;
  const exportsLine = EXPORTS_LINE.exec(out);
  if (exportsLine) {
    const name = exportsLine[1] as string;
    out = `${out.slice(0, exportsLine.index)}yield;${out.slice(exportsLine.index + exportsLine[0].length)}`;
    const declaration = new RegExp(`^var ${name.replaceAll('$', '\\$')} = \\{\\};$`, 'm');
    if (!declaration.test(out)) throw new Error(`hotmcp: unexpected esbuild output (no 'var ${name} = {};')`);
    out = out.replace(declaration, () => `var ${name} = module.exports;`);
  } else {
    out = `yield;${out}`;
  }
  if (out.includes('__toESM(')) {
    if (!out.includes(TO_ESM)) throw new Error('hotmcp: unexpected esbuild output (no __toESM helper)');
    out = out.replace(
      TO_ESM,
      () => `${TO_ESM.slice(0, -1)}mod != null && mod[Symbol.toStringTag] === "Module" ? mod : (`,
    );
  }
  return out;
}
