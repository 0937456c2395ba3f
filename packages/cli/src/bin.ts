#!/usr/bin/env node
import module from 'node:module';
import { spawnEarlyServer } from './early-server.js';

// Node ≥ 22.1 keeps V8's compiled code of every module loaded (hotmcp's, the server's and its
// dependencies') on disk across runs: the next start, and every restart, compiles less.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// `hotmcp dev` behind its supervisor: the server process boots while the supervisor's code loads.
const early = spawnEarlyServer(process.argv.slice(2));
const [{ main }, { mark }] = await Promise.all([import('./cli.js'), import('./timing.js')]);

mark('cli imported');
process.exitCode = await main(process.argv.slice(2), early);
