/**
 * One command for a fleet of three: a redis-server of its own (or
 * $HOTMCP_REDIS_URL), three replicas of examples/http-sessions, and this
 * example's tools/ published to them. Ctrl-C stops everything.
 */
import { fileURLToPath } from 'node:url';
import { startFleet } from './fleet.js';

const log = (message: string) => process.stderr.write(`hotmcp fleet: ${message}\n`);
const tools = fileURLToPath(new URL('../tools', import.meta.url));

const fleet = await startFleet({
  initial: tools,
  ...(process.env.HOTMCP_REDIS_URL && { redisUrl: process.env.HOTMCP_REDIS_URL }),
  ...(process.env.HOTMCP_REDIS_STREAM && { stream: process.env.HOTMCP_REDIS_STREAM }),
});
log(`Redis ${fleet.redisUrl}, stream ${fleet.stream}`);
for (const replica of fleet.replicas) log(`${replica.name}: ${replica.server.origin}/mcp`);
log(`publish an edit: pnpm exec hotmcp publish ${tools} --redis ${fleet.redisUrl} --stream ${fleet.stream} --wait`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fleet.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
