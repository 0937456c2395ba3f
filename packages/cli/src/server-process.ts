/**
 * The server process `hotmcp dev` runs behind its supervisor: `node server-process.cjs <dev arguments>` (bundled
 * as CommonJS: Node starts it sooner, with no ES module loader to set up before the entry's import). It loads
 * what serving needs and no more (no CLI, no supervisor), so the entry starts as soon as it can.
 */
import module from 'node:module';
import { parseDevArgs } from './dev/dev-args.js';
import { serve } from './dev/serve.js';

// Node ≥ 22.1 keeps V8's compiled code of the modules loaded from here on (the server's and its
// dependencies', then hotmcp's engine) on disk across runs: every restart compiles less.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const args = parseDevArgs(process.argv.slice(2));
if (args.kind === 'run') {
  void serve(args.options).then((code) => {
    process.exitCode = code;
  });
} else {
  // The supervisor checked the command line already: only a process started before it did sees this.
  process.stderr.write(args.kind === 'error' ? args.message : 'hotmcp: nothing to serve\n');
  process.exitCode = 2;
}
