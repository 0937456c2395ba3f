/** `hotmcp-fleet publish` and `hotmcp-fleet status`: argument parsing and output, for the bin and the hotmcp CLI. */
import { parseArgs } from 'node:util';
import type { ReplicaReport } from './fleet-protocol.js';
import { type FleetStatus, fleetStatus } from './fleet-status.js';
import { publish } from './publish.js';

const USAGE = `usage:
  hotmcp-fleet publish <dir> [--redis <url>] [--stream <name>] [--wait] [--timeout <ms>] [--include <glob>]... [--exclude <glob>]...
  hotmcp-fleet status [--redis <url>] [--stream <name>] [--json]
--redis defaults to $HOTMCP_REDIS_URL, else redis://127.0.0.1:6379; --stream to $HOTMCP_REDIS_STREAM, else hotmcp:fleet.`;

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
export async function runPublish(args: readonly string[], output: CliOutput = STD): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      redis: { type: 'string' },
      stream: { type: 'string' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
    },
  });
  const dir = positionals[0];
  if (dir === undefined) {
    output.err(USAGE);
    return 2;
  }
  const result = await publish({
    dir,
    redis: redisUrl(values.redis),
    stream: values.stream ?? process.env.HOTMCP_REDIS_STREAM,
    ...(values.include && { include: values.include }),
    ...(values.exclude && { exclude: values.exclude }),
    wait: values.wait ? Number(values.timeout ?? 30_000) : false,
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
  for (const name of result.pending ?? []) output.err(`  ${name} had not applied ${result.id} in time`);
  const failed = (result.replicas ?? []).filter((replica) => replica.outcome !== 'applied');
  return failed.length > 0 || (result.pending ?? []).length > 0 ? 1 : 0;
}

/** Run `status ...`; resolves with the exit code. */
export async function runStatus(args: readonly string[], output: CliOutput = STD): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { redis: { type: 'string' }, stream: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const status: FleetStatus = await fleetStatus({
    redis: redisUrl(values.redis),
    stream: values.stream ?? process.env.HOTMCP_REDIS_STREAM,
  });
  if (values.json) {
    output.out(JSON.stringify(status, null, 2));
    return 0;
  }
  output.out(`${status.stream}: head ${status.head}, ${status.length} entries, ${status.files} files`);
  for (const replica of status.replicas) {
    const flags = [replica.live ? 'live' : 'down', replica.behind ? 'behind' : 'current', replica.state].join(', ');
    for (const line of describeReplica(replica, ` (${flags})`)) output.out(line);
  }
  return 0;
}

function redisUrl(flag: string | undefined): string {
  return flag ?? process.env.HOTMCP_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** Dispatch `publish` / `status` (`fleet status` also accepted). */
export async function runFleetCli(argv: readonly string[], output: CliOutput = STD): Promise<number> {
  const [command, ...rest] = argv[0] === 'fleet' ? argv.slice(1) : argv;
  try {
    if (command === 'publish') return await runPublish(rest, output);
    if (command === 'status') return await runStatus(rest, output);
  } catch (error) {
    output.err(`hotmcp-fleet: ${(error as Error).message}`);
    return 1;
  }
  output.err(USAGE);
  return 2;
}
