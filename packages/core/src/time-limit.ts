/**
 * `promise`, or `'timeout'` once `ms` have passed. The timer never keeps the
 * process alive unless `keepAlive` (for a wait that must end with an answer,
 * such as a load whose module's top-level `await` may never settle).
 */
export function withinLimit<T>(promise: Promise<T>, ms: number, keepAlive = false): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    if (!keepAlive) timer.unref();
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
