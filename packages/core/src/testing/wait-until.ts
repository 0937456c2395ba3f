/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** How long to wait before failing, in ms (default 10 000). */
  timeoutMs?: number;
  /** How long to sleep between checks, in ms (default 5). */
  intervalMs?: number;
  /** What is awaited, for the timeout error; a function is called only when it fails (to show the state then). */
  what?: string | (() => string);
}

/**
 * Check `condition` until it holds, every `intervalMs`, and reject after
 * `timeoutMs` with an error naming what was awaited. The one bounded wait of
 * the tests, for states no event announces: never a bare fixed sleep.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  options: WaitUntilOptions = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 5, what = 'a condition' } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
