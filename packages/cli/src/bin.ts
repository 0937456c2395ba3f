#!/usr/bin/env node
// The `hotmcp` command. The build bundles this file alone as CommonJS (dist/bundle/bin.cjs): Node starts a
// CommonJS script sooner than an ES module (no ES module loader to set up first), and `hotmcp dev` spawns its
// server process here, before anything else is loaded. The CLI itself is the ES bundle beside it.
import module from 'node:module';
import { spawnEarlyServer } from './early-server.js';

const argv = process.argv.slice(2);
const early = spawnEarlyServer(argv);
// Node ≥ 22.1 keeps V8's compiled code of the modules loaded from here on on disk across runs.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
void (async () => {
  // In direct mode the server process serves the client itself: the supervisor loads once it has
  // answered the client's first requests, so that the two processes do not share the CPU meanwhile.
  if (early) await early.started;
  // A URL computed at run time: the bundler leaves this import to Node, which loads the ES bundle.
  const cli = new URL('./cli.js', import.meta.url).href;
  const { main } = (await import(cli)) as typeof import('./cli.js');
  process.exitCode = await main(argv, early);
})();
