// The floor for a supervisor written in Node: a bare relay that pipes its
// stdio to and from the command after `--`, with no look at the messages.
import { spawn } from 'node:child_process';

const at = process.argv.indexOf('--');
const [command, ...args] = process.argv.slice(at + 1);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));
