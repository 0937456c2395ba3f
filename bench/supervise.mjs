// The supervisor on this process's stdio, around the command after `--`.
import { startSupervisor } from '@hotmcp/cli';

const at = process.argv.indexOf('--');
const [command, ...args] = process.argv.slice(at + 1);
const supervisor = startSupervisor({ command, args });
await supervisor.closed;
process.exit(0);
