/**
 * The fuzzed edit sequences: the steps fast-check generates, the files they
 * write, and the model of what a client must see after each one.
 *
 * The files: tool slots `t0.ts` … `t7.ts` in the tools root and one helper,
 * `lib/helper.ts`, that some tools import. Every tool module defines one tool
 * whose answer names its own version and, when it imports the helper, the
 * helper version it was loaded with. The model keeps, per file, what is on
 * disk and the last version that loaded, and derives the list and the answers
 * from that: a broken module keeps its last good version; a deleted module's
 * tool goes away; a helper change reloads every tool importing it; a rename
 * moves the module (a new module at the new path); a module never good is absent.
 */
import fc from 'fast-check';

/** How many tool slots (files `t0.ts` … `t7.ts`). */
export const SLOTS = 8;
/** The helper module, relative to the tools root. */
export const HELPER = 'lib/helper.ts';

/**
 * How a write breaks a module: a syntax error; a thrown Error; a thrown value
 * that is no Error (a string, a number, a plain object, an object with no
 * prototype, a throwing `toString`, a Proxy whose traps throw); an Error thrown on the main thread only (the
 * preflight worker evaluates it fine).
 */
export type Breakage = 'syntax' | 'throw' | 'throwValue' | 'mainThread';
const BREAKAGES: Breakage[] = ['syntax', 'throw', 'throwValue', 'mainThread'];

/** Hostile thrown values, picked by a break's id. */
const THROWN_VALUES = [
  "'fuzz: a thrown string'",
  '42',
  '{ code: 1 }',
  'Object.create(null)',
  "{ toString() { throw new Error('no string'); } }",
  "new Proxy({}, new Proxy({}, { get: () => () => { throw new Error('trap'); } }))",
];

/** The statement that breaks a module at import, or undefined for a syntax error (written elsewhere). */
function breakStatement(how: Breakage, label: string, id: number): string | undefined {
  if (how === 'throw') return `throw new Error('fuzz: ${label} refuses to load (${id})');`;
  if (how === 'throwValue') return `throw ${THROWN_VALUES[id % THROWN_VALUES.length]};`;
  if (how === 'mainThread')
    return `if (isMainThread) throw new Error('fuzz: ${label} refuses the main thread (${id})');`;
  return undefined;
}

/**
 * The dispose hook a good tool version exports, by version: none, slow
 * (300 ms), throwing, or never settling. None changes what clients see: the
 * reloader must go on whatever the hook does.
 */
function disposeHook(version: number): string {
  switch (version % 4) {
    case 1:
      return 'export const dispose = () => new Promise((resolve) => setTimeout(resolve, 300));';
    case 2:
      return "export function dispose() { throw new Error('fuzz: dispose refuses'); }";
    case 3:
      return 'export const dispose = () => new Promise(() => {});';
    default:
      return '';
  }
}

/**
 * One step. Slot numbers are hints: each step picks among the files it can
 * apply to (`pick` modulo their count), so every generated step does something
 * and shrinking keeps sequences meaningful.
 */
export type Step =
  | { op: 'add'; pick: number; helper: boolean }
  | { op: 'edit'; pick: number; describe: boolean; helper: boolean }
  | { op: 'break'; pick: number; how: Breakage }
  | { op: 'fix'; pick: number }
  | { op: 'delete'; pick: number }
  | { op: 'rename'; pick: number; to: number }
  | { op: 'helperEdit' }
  | { op: 'helperBreak'; how: Breakage }
  | { op: 'helperDelete' };

/** The arbitrary of one step. */
export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('add' as const), pick: fc.nat(SLOTS - 1), helper: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('edit' as const),
      pick: fc.nat(SLOTS - 1),
      describe: fc.boolean(),
      helper: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('break' as const),
      pick: fc.nat(SLOTS - 1),
      how: fc.constantFrom<Breakage>(...BREAKAGES),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('fix' as const), pick: fc.nat(SLOTS - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat(SLOTS - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('rename' as const), pick: fc.nat(SLOTS - 1), to: fc.nat(SLOTS - 1) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('helperEdit' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('helperBreak' as const),
      how: fc.constantFrom<Breakage>(...BREAKAGES),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('helperDelete' as const) }) },
);

/** The arbitrary of one sequence. */
export function sequenceArbitrary(maxLength: number): fc.Arbitrary<Step[]> {
  return fc.array(stepArbitrary, { minLength: 1, maxLength });
}

/** A tool module's content, as the model knows it. */
export interface ToolSource {
  name: string;
  version: number;
  /** Part of the listed description: an edit with `describe` changes what clients list. */
  description: string;
  helper: boolean;
  broken?: Breakage;
  /** Makes each broken write's bytes differ. */
  breakId?: number;
}

/** The helper module's content. */
export interface HelperSource {
  version: number;
  broken?: Breakage;
}

/** What a tool module last loaded as: its listed description and its answer. */
export interface Loaded {
  name: string;
  description: string;
  answer: string;
}

interface ToolFile {
  source: ToolSource;
  good?: Loaded;
}

/** A file operation the runner performs for a step. */
export type FileAction =
  | { kind: 'write'; path: string; content: string }
  | { kind: 'delete'; path: string }
  | { kind: 'rename'; from: string; to: string };

/** What a client sees: listed tools by name, with description and answer. */
export type View = Record<string, { description: string; answer: string }>;

export const slotPath = (slot: number): string => `t${slot}.ts`;

/** The source of a tool module. */
export function toolModule(source: ToolSource): string {
  const lines = ["import { isMainThread } from 'node:worker_threads';", "import { defineTool } from '@hotmcp/core';"];
  if (source.helper) lines.push("import { tag } from './lib/helper.js';");
  lines.push('');
  const statement = source.broken && breakStatement(source.broken, source.name, source.breakId ?? 0);
  if (statement) lines.push(statement);
  const answer = `'${source.name} v${source.version}'${source.helper ? " + ' ' + tag()" : ''}`;
  lines.push(
    'export default defineTool({',
    `  name: '${source.name}',`,
    `  description: '${source.description}',`,
    `  handler: async () => ({ content: [{ type: 'text', text: ${answer} }] }),`,
    '});',
  );
  if (source.broken === 'syntax') lines.push(`export const broken${source.breakId} = ;`);
  lines.push(`export const uses = isMainThread;`, disposeHook(source.version));
  return `${lines.join('\n')}\n`;
}

/** The source of the helper module. */
export function helperModule(source: HelperSource): string {
  const body = `import { isMainThread } from 'node:worker_threads';\nexport const tag = (): string => 'h${source.version}';\nexport const uses = isMainThread;`;
  const statement = source.broken && breakStatement(source.broken, 'helper', source.version);
  if (statement) return `${body}\n${statement}\n`;
  if (source.broken === 'syntax') return `export const tag = (: string => 'h${source.version}';\n`;
  return `${body}\n`;
}

/**
 * The model: the files on disk and what each tool module last loaded as.
 * Starts from an empty folder (no tools, no helper).
 */
export class FuzzModel {
  private readonly tools = new Map<number, ToolFile>();
  private helper: HelperSource | undefined;
  private nextName = 0;
  private nextVersion = 1;
  private nextBreak = 1;

  /** Apply a step: returns the file actions that make the disk match, and a readable label. */
  apply(step: Step): { label: string; actions: FileAction[] } {
    const occupied = [...this.tools.keys()].sort((a, b) => a - b);
    const free = range(SLOTS).filter((slot) => !this.tools.has(slot));
    const broken = occupied.filter((slot) => this.tools.get(slot)?.source.broken);
    const pick = <T>(list: T[], hint: number): T | undefined => list[hint % Math.max(1, list.length)];

    switch (step.op) {
      case 'add': {
        const slot = pick(free, step.pick);
        if (slot === undefined) return this.apply({ op: 'edit', pick: step.pick, describe: true, helper: step.helper });
        const name = `tool_${this.nextName++}`;
        const version = this.nextVersion++;
        return this.writeTool(slot, { name, version, description: `${name} d${version}`, helper: step.helper }, 'add');
      }
      case 'edit':
      case 'fix': {
        const slot =
          step.op === 'fix' ? (pick(broken, step.pick) ?? pick(occupied, step.pick)) : pick(occupied, step.pick);
        if (slot === undefined)
          return this.apply({ op: 'add', pick: step.pick, helper: step.op === 'edit' && step.helper });
        const before = (this.tools.get(slot) as ToolFile).source;
        const version = this.nextVersion++;
        const describe = step.op === 'edit' ? step.describe : false;
        const helper = step.op === 'edit' ? step.helper : before.helper;
        const description = describe ? `${before.name} d${version}` : before.description;
        return this.writeTool(slot, { name: before.name, version, description, helper }, step.op);
      }
      case 'break': {
        const slot = pick(occupied, step.pick);
        if (slot === undefined) return this.apply({ op: 'add', pick: step.pick, helper: true });
        const before = (this.tools.get(slot) as ToolFile).source;
        return this.writeTool(slot, { ...before, broken: step.how, breakId: this.nextBreak++ }, `break(${step.how})`);
      }
      case 'delete': {
        const slot = pick(occupied, step.pick);
        if (slot === undefined) return this.apply({ op: 'add', pick: step.pick, helper: false });
        this.tools.delete(slot);
        return { label: `delete ${slotPath(slot)}`, actions: [{ kind: 'delete', path: slotPath(slot) }] };
      }
      case 'rename': {
        const from = pick(occupied, step.pick);
        const to = pick(free, step.to);
        if (from === undefined) return this.apply({ op: 'add', pick: step.pick, helper: false });
        if (to === undefined) return this.apply({ op: 'delete', pick: step.pick });
        const source = (this.tools.get(from) as ToolFile).source;
        this.tools.delete(from);
        // A new module at the new path: it has a last good version only if it loads now.
        this.tools.set(to, { source, ...this.load(source) });
        return {
          label: `rename ${slotPath(from)} -> ${slotPath(to)}`,
          actions: [{ kind: 'rename', from: slotPath(from), to: slotPath(to) }],
        };
      }
      case 'helperEdit':
        return this.writeHelper({ version: this.nextVersion++ }, this.helper ? 'helper edit' : 'helper add');
      case 'helperBreak':
        return this.writeHelper({ version: this.nextVersion++, broken: step.how }, `helper break(${step.how})`);
      case 'helperDelete': {
        if (!this.helper) return this.apply({ op: 'helperEdit' });
        this.helper = undefined;
        this.reloadImporters();
        return { label: 'helper delete', actions: [{ kind: 'delete', path: HELPER }] };
      }
    }
  }

  /** What a client must see (the tools of the modules under test only). */
  view(): View {
    const view: View = {};
    for (const file of this.tools.values()) {
      if (file.good) view[file.good.name] = { description: file.good.description, answer: file.good.answer };
    }
    return view;
  }

  /** The file actions that empty the folder of everything the model wrote. */
  clear(): FileAction[] {
    const actions: FileAction[] = [...this.tools.keys()].map((slot) => ({ kind: 'delete', path: slotPath(slot) }));
    if (this.helper) actions.push({ kind: 'delete', path: HELPER });
    return actions;
  }

  private writeTool(slot: number, source: ToolSource, verb: string): { label: string; actions: FileAction[] } {
    const previous = this.tools.get(slot);
    const loaded = this.load(source);
    this.tools.set(slot, { source, ...(loaded.good ? loaded : previous?.good && { good: previous.good }) });
    const detail = `${source.name} v${source.version}${source.helper ? ' +helper' : ''}`;
    return {
      label: `${verb} ${slotPath(slot)} (${detail})`,
      actions: [{ kind: 'write', path: slotPath(slot), content: toolModule(source) }],
    };
  }

  private writeHelper(source: HelperSource, label: string): { label: string; actions: FileAction[] } {
    this.helper = source;
    this.reloadImporters();
    return {
      label: `${label} (h${source.version})`,
      actions: [{ kind: 'write', path: HELPER, content: helperModule(source) }],
    };
  }

  /** The helper changed: every tool module importing it is loaded again. */
  private reloadImporters(): void {
    for (const file of this.tools.values()) {
      if (!file.source.helper) continue;
      const loaded = this.load(file.source);
      if (loaded.good) file.good = loaded.good;
    }
  }

  /** What loading `source` now gives: a good version, or nothing (the last good one stays). */
  private load(source: ToolSource): { good?: Loaded } {
    if (source.broken) return {};
    let answer = `${source.name} v${source.version}`;
    if (source.helper) {
      if (!this.helper || this.helper.broken) return {};
      answer += ` h${this.helper.version}`;
    }
    return { good: { name: source.name, description: source.description, answer } };
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}
