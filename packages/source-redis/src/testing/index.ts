export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { startRedisServer } from './redis-server.js';
