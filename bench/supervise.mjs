// The supervisor on this process's stdio, around the command after `--`. With --direct, in direct
// mode: the command (a Node script) runs with hotmcp's supervised stdio preloaded.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startSupervisor } from '@hotmcp/cli';

const at = process.argv.indexOf('--');
const direct = process.argv.slice(2, at).includes('--direct');
const [command, ...args] = process.argv.slice(at + 1);
const preload = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('@hotmcp/cli')), 'dev', 'supervised-stdio.js'),
).href;
const supervisor = startSupervisor(
  direct ? { command, args: ['--import', preload, ...args], direct: true } : { command, args },
);
await supervisor.closed;
process.exit(0);
