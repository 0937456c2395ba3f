// Resident memory of a process tree, from Linux's /proc (for the memory benches).
import { readdirSync, readFileSync } from 'node:fs';

/** RSS in kB of every process under `pid`, and of `pid` itself unless `withRoot` is false. */
export function processTreeRssKb(pid, { withRoot = true } = {}) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  let kb = 0;
  const pending = withRoot ? [pid] : [...(children.get(pid) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop();
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${next}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
    pending.push(...(children.get(next) ?? []));
  }
  return kb;
}
