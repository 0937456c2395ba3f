type Capabilities = Record<string, Record<string, unknown> | undefined>;

/** The lists a server advertises, each of which can change under `hotmcp dev`. */
export const LISTS = ['tools', 'prompts', 'resources'] as const;

/**
 * `given` capabilities with `listChanged` on the lists: on all three, and
 * `logging`, for an McpServer (an edit may add a prompt to a server with
 * none, and the CLI's problems go out as log messages); on those it has only
 * when `only` (a low-level Server answers no list it does not serve).
 * `onMissing` gets the lists it had without `listChanged`.
 */
export function withListChanged(
  given: unknown,
  onMissing: (missing: string[]) => void,
  only: 'existing' | 'all' = 'all',
): Capabilities {
  const capabilities = { ...(given as Capabilities | undefined) };
  const missing = LISTS.filter((list) => capabilities[list] !== undefined && capabilities[list]?.listChanged !== true);
  if (missing.length > 0) onMissing(missing);
  for (const list of LISTS) {
    if (only === 'all' || capabilities[list]) capabilities[list] = { ...capabilities[list], listChanged: true };
  }
  if (only === 'all') capabilities.logging ??= {};
  return capabilities;
}

/** What the CLI says, once, of a server that left `listChanged` out. */
export function listChangedWarning(missing: string[], after: 'an edit' | 'a restart'): string {
  return `the server does not advertise listChanged for ${missing.join(', ')}; hotmcp dev advertises it, so clients refresh their lists after ${after}`;
}
