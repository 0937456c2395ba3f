/** A short-lived connection for `publish` and `fleetStatus`: a few retries, then a clear error. */
import { HotMcpError } from '@hotmcp/core';
import { Redis } from 'ioredis';

/**
 * Run `use` with `redis`, or with a connection of its own to the URL `redis`
 * (closed after). An unreachable Redis fails with `HOTMCP_ERR_FLEET_UNAVAILABLE`
 * naming the URL and the last connection error, rather than ioredis' retry message.
 */
export async function withRedis<T>(redis: string | Redis, use: (client: Redis) => Promise<T>): Promise<T> {
  if (typeof redis !== 'string') return use(redis);
  let lastError: Error | undefined;
  const client = new Redis(redis, { maxRetriesPerRequest: 2 });
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    return await use(client);
  } catch (error) {
    if (lastError === undefined || client.status === 'ready') throw error;
    throw new HotMcpError('HOTMCP_ERR_FLEET_UNAVAILABLE', `cannot reach Redis at ${redis}: ${lastError.message}`, {
      cause: error,
    });
  } finally {
    client.disconnect();
  }
}
