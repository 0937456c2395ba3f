/** `hotmcp publish` and `hotmcp fleet status` (also the `hotmcp-fleet` bin): argument parsing and output. */
import { parseArgs } from 'node:util';
import type { ReplicaReport } from './fleet-protocol.js';
import { type FleetStatus, fleetStatus, type ReplicaStatus } from './fleet-status.js';
import { publish } from './publish.js';

/** How the commands are named in usage and error lines. */
export interface FleetCliNames {
  /** The program: `hotmcp` (default) or `hotmcp-fleet`. */
  program: string;
  /** How its status command is spelt: `fleet status` (default) or `status`. */
  status: string;
}

const HOTMCP: FleetCliNames = { program: 'hotmcp', status: 'fleet status' };

const usage = ({ program, status }: FleetCliNames) => `usage:
  ${program} publish <dir> [--redis <url>] [--stream <name>] [--wait] [--timeout <ms>] [--no-compile] [--include <glob>]... [--exclude <glob>]...
  ${program} ${status} [--redis <url>] [--stream <name>] [--json]
--redis defaults to $HOTMCP_REDIS_URL, else redis://127.0.0.1:6379; --stream to $HOTMCP_REDIS_STREAM, else hotmcp:fleet.
publish sends what differs from the fleet's snapshot as one entry; --wait waits (--timeout ms, default 30000) until
every live replica has applied it, prints each one's outcome and exits 1 if one failed or did not answer in time.
It sends its compilations of the modules along, which replicas on the same hotmcp, esbuild and Node major run rather
than compiling each file again; --no-compile sends the files only.
${status} lists the replicas: last entry, outcome, errors, live or down, current or behind by how many entries.
`;

/** Where the CLI writes (stdout for results, stderr for problems). */
export interface CliOutput {
  /** A line of result (stdout). */
  out(line: string): void;
  /** A line about a problem (stderr). */
  err(line: string): void;
}

const STD: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A replica's line, then one line per error. */
function describeReplica(report: ReplicaReport, flags = ''): string[] {
  const errors = report.errors.map(
    (error) => `    ${error.module ? `${error.module} ` : ''}${error.code}: ${error.message}`,
  );
  return [`  ${report.name} ${report.id} ${report.outcome}${flags}`, ...errors];
}

/** Run `publish <dir> ...`; resolves with the exit code (1: a replica failed or did not answer in time). */
export async function runPublish(
  args: readonly string[],
  output: CliOutput = STD,
  names: FleetCliNames = HOTMCP,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      redis: { type: 'string' },
      stream: { type: 'string' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      'no-compile': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
    },
  });
  if (values.help) {
    output.err(usage(names));
    return 0;
  }
  const timeoutMs = Number(values.timeout ?? 30_000);
  if (!(timeoutMs > 0)) {
    output.err(`${names.program}: --timeout must be a positive number of milliseconds`);
    return 2;
  }
  const dir = positionals[0];
  if (dir === undefined || positionals.length > 1) {
    output.err(`${names.program}: publish takes one folder\n${usage(names)}`);
    return 2;
  }
  const result = await publish({
    dir,
    redis: redisUrl(values.redis),
    stream: values.stream ?? process.env.HOTMCP_REDIS_STREAM,
    ...(values.include && { include: values.include }),
    ...(values.exclude && { exclude: values.exclude }),
    wait: values.wait ? timeoutMs : false,
    ...(values['no-compile'] && { compile: false }),
    onPublished: (entry) =>
      output.out(`published ${entry.id}: ${entry.written.length} written, ${entry.deleted.length} deleted`),
    onReplica: (report) => {
      for (const line of describeReplica(report)) output.out(line);
    },
  });
  if (result.id === undefined) {
    output.out(`nothing to publish: ${dir} matches the fleet's snapshot (${result.head})`);
    return 0;
  }
  if (!values.wait) return 0;
  if ((result.replicas ?? []).length === 0) {
    output.err(`  no live replica: the entry waits in the stream for replicas to start`);
    return 0;
  }
  for (const name of result.pending ?? []) output.err(`  ${name} had not applied ${result.id} in time`);
  const failed = (result.replicas ?? []).filter((replica) => replica.outcome !== 'applied');
  return failed.length > 0 || (result.pending ?? []).length > 0 ? 1 : 0;
}

/** Run `status ...`; resolves with the exit code. */
export async function runStatus(
  args: readonly string[],
  output: CliOutput = STD,
  names: FleetCliNames = HOTMCP,
): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      redis: { type: 'string' },
      stream: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    output.err(usage(names));
    return 0;
  }
  const status: FleetStatus = await fleetStatus({
    redis: redisUrl(values.redis),
    stream: values.stream ?? process.env.HOTMCP_REDIS_STREAM,
  });
  if (values.json) {
    output.out(JSON.stringify(status, null, 2));
    return 0;
  }
  output.out(
    `${status.stream}: head ${status.head} (entry ${status.seq}), ${status.length} entries kept, ${status.files} files`,
  );
  for (const replica of status.replicas) {
    const flags = [replica.live ? 'live' : 'down', lag(replica), replica.state].join(', ');
    for (const line of describeReplica(replica, ` (${flags})`)) output.out(line);
  }
  return 0;
}

/** `current`, or `behind by N entries` (`behind` alone when the count is unknown, or it is still catching up). */
function lag(replica: ReplicaStatus): string {
  if (!replica.behind) return 'current';
  if (replica.behindBy === undefined || replica.behindBy === 0) return 'behind';
  return `behind by ${replica.behindBy} ${replica.behindBy === 1 ? 'entry' : 'entries'}`;
}

function redisUrl(flag: string | undefined): string {
  return flag ?? process.env.HOTMCP_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/**
 * Dispatch `publish <dir> ...` / `status ...` (`fleet publish`, `fleet status` also accepted); resolves with the
 * exit code: 0 done, 1 a replica failed or Redis could not be reached, 2 bad usage.
 */
export async function runFleetCli(
  argv: readonly string[],
  output: CliOutput = STD,
  names: FleetCliNames = HOTMCP,
): Promise<number> {
  const [command, ...rest] = argv[0] === 'fleet' ? argv.slice(1) : argv;
  if (command === 'publish' || command === 'status') {
    try {
      return await (command === 'publish' ? runPublish : runStatus)(rest, output, names);
    } catch (error) {
      const bad = (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
      output.err(`${names.program}: ${(error as Error).message}${bad ? `\n${usage(names)}` : ''}`);
      return bad ? 2 : 1;
    }
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    output.err(usage(names));
    return 0;
  }
  output.err(
    `${names.program}: ${command === undefined ? 'no command' : `unknown command '${command}'`}\n${usage(names)}`,
  );
  return 2;
}
