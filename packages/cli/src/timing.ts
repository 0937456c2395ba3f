/**
 * Start-up stage timing of `hotmcp dev`, and the supervisor's events (restarts,
 * a process that stopped reading, crashes), on stderr when HOTMCP_DEBUG_TIMING
 * is set: `hotmcp timing <pid> <epoch ms> <stage>` (epoch times, so the
 * supervisor's and the server process's lines can be laid side by side).
 */
export const enabled = process.env.HOTMCP_DEBUG_TIMING !== undefined && process.env.HOTMCP_DEBUG_TIMING !== '';

const cpu = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
};

export function mark(stage: string): void {
  if (!enabled) return;
  process.stderr.write(
    `hotmcp timing ${process.pid} ${(performance.timeOrigin + performance.now()).toFixed(1)} ${stage} (cpu ${cpu()} ms)\n`,
  );
}

if (enabled) {
  process.stderr.write(`hotmcp timing ${process.pid} ${performance.timeOrigin.toFixed(1)} process start\n`);
}
