import type satisfiesFunction from 'semver/functions/satisfies.js';
import type validFunction from 'semver/functions/valid.js';
import { HotMcpError } from './errors.js';
import { lazyRequire } from './lazy-require.js';
import type { ToolRegistryAdapter } from './ports/tool-registry-adapter.js';

const satisfies = lazyRequire<typeof satisfiesFunction>('semver/functions/satisfies.js');
const valid = lazyRequire<typeof validFunction>('semver/functions/valid.js');

/** The adapter contract versions this core drives. */
export const SUPPORTED_CONTRACT_VERSIONS: readonly number[] = [1];

const PART = '(0|[1-9]\\d*)';
const PLAIN_VERSION = new RegExp(`^${PART}\\.${PART}\\.${PART}$`);
const CARET_RANGE = new RegExp(`^\\^${PART}\\.${PART}\\.${PART}$`);

/**
 * Whether a plain `A.B.C` version satisfies a plain `^X.Y.Z` range, as semver judges it (the range every
 * adapter of this repository declares); undefined for any other form, which semver judges. Loading semver
 * costs a start several milliseconds of CPU.
 */
export function caretSatisfies(version: string, range: string): boolean | undefined {
  const v = PLAIN_VERSION.exec(version);
  const r = CARET_RANGE.exec(range);
  if (v === null || r === null) return undefined;
  const [a, b, c] = v.slice(1).map(Number) as [number, number, number];
  const [x, y, z] = r.slice(1).map(Number) as [number, number, number];
  if (x > 0) return a === x && (b > y || (b === y && c >= z));
  if (y > 0) return a === 0 && b === y && c >= z;
  return a === 0 && b === 0 && c === z;
}

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
  if (sdk?.version === undefined) return;
  const fits = caretSatisfies(sdk.version, sdk.range) ?? (!valid()(sdk.version) || satisfies()(sdk.version, sdk.range));
  if (!fits) {
    throw incompatible(`${name} supports ${sdk.name} ${sdk.range}, but the server runs ${sdk.name} ${sdk.version}`);
  }
}
