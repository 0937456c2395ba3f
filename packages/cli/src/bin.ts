#!/usr/bin/env node
import module from 'node:module';
import { spawnEarlyServer } from './early-server.js';

// `hotmcp dev` behind its supervisor: the server process is spawned first, before anything else
// is loaded or set up.
const early = spawnEarlyServer(process.argv.slice(2));
// Node ≥ 22.1 keeps V8's compiled code of the modules loaded from here on on disk across runs.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// In direct mode the server process serves the client itself: the supervisor loads once it has
// answered the client's first requests, so that the two processes do not share the CPU meanwhile.
if (early) await early.started;
const [{ main }, { mark }] = await Promise.all([import('./cli.js'), import('./timing.js')]);

mark('cli imported');
process.exitCode = await main(process.argv.slice(2), early);
