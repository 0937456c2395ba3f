import type satisfiesFunction from 'semver/functions/satisfies.js';
import type validFunction from 'semver/functions/valid.js';
import { HotMcpError } from './errors.js';
import { lazyRequire } from './lazy-require.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';

const satisfies = lazyRequire<typeof satisfiesFunction>('semver/functions/satisfies.js');
const valid = lazyRequire<typeof validFunction>('semver/functions/valid.js');

/** The adapter contract versions this core drives. */
export const SUPPORTED_CONTRACT_VERSIONS: readonly number[] = [1];

function incompatible(message: string): HotMcpError {
  return new HotMcpError('HOTMCP_ERR_ADAPTER_INCOMPATIBLE', message);
}

/**
 * Check a registry adapter before it touches a server: the contract version
 * it follows, its methods, and the SDK version it found against the range it
 * declares.
 */
export function assertAdapter(adapter: unknown): asserts adapter is ToolRegistryAdapter {
  const candidate = adapter as Partial<ToolRegistryAdapter> | null | undefined;
  if (typeof candidate !== 'object' || candidate === null) throw incompatible('the registry adapter is not an object');
  const name = typeof candidate.adapterName === 'string' ? candidate.adapterName : 'the registry adapter';
  if (!SUPPORTED_CONTRACT_VERSIONS.includes(candidate.contractVersion as number)) {
    throw incompatible(
      `${name} follows adapter contract ${String(candidate.contractVersion)}; this @hotmcp/core supports ${SUPPORTED_CONTRACT_VERSIONS.join(', ')}`,
    );
  }
  for (const method of ['list', 'prepare', 'commit'] as const) {
    if (typeof candidate[method] !== 'function') throw incompatible(`${name} has no ${method}() method`);
  }
  const sdk = candidate.sdk;
  if (sdk?.version !== undefined && valid()(sdk.version) && !satisfies()(sdk.version, sdk.range)) {
    throw incompatible(`${name} supports ${sdk.name} ${sdk.range}, but the server runs ${sdk.name} ${sdk.version}`);
  }
}
