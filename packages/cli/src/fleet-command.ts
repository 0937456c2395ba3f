/**
 * `hotmcp publish` and `hotmcp fleet ...`: run by @hotmcp/source-redis (an
 * optional peer), imported only for these commands, so `hotmcp dev` never
 * loads it or its Redis client.
 */

/** What this module needs of @hotmcp/source-redis. */
export interface FleetCli {
  runFleetCli(
    argv: readonly string[],
    output?: undefined,
    names?: { program: string; status: string },
  ): Promise<number>;
}

const PACKAGE = '@hotmcp/source-redis';

/**
 * Run `argv` (`publish <dir> ...`, `fleet status ...`); resolves with the
 * exit code. When @hotmcp/source-redis is not installed, says how to install
 * it and resolves with 1.
 */
export async function runFleetCommand(
  argv: readonly string[],
  load: () => Promise<FleetCli> = () => import(PACKAGE) as Promise<FleetCli>,
): Promise<number> {
  let fleet: FleetCli;
  try {
    fleet = await load();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !message.includes(`'${PACKAGE}'`)) throw error;
    process.stderr.write(
      `hotmcp: '${argv[0]}' needs ${PACKAGE}, which is not installed; install it next to @hotmcp/cli (npm install ${PACKAGE}, or pnpm add ${PACKAGE})\n`,
    );
    return 1;
  }
  return fleet.runFleetCli(argv, undefined, { program: 'hotmcp', status: 'fleet status' });
}
