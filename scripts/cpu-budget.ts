import fs from 'node:fs';

/**
 * Where a benchmark's CPU went, from /proc (Linux): the machine's busy core-seconds over a measured
 * run and a process's own. A run that keeps every core busy is bound by the work it does, not by
 * waiting; the benchmarks print this beside rows/s, so a ratio comes with what limits it.
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface MachineSample {
  busyMs: number;
  totalMs: number;
}

export function sampleMachine(): MachineSample {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = ticks[3] + ticks[4]; // idle + iowait
  return { busyMs: (total - idle) * TICK_MS, totalMs: total * TICK_MS };
}

/** CPU time a process has used (user + system), in ms. */
export function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU time (ms) of the running processes with this command name (the Temporal dev server is "temporal"). */
export function commandCpuMs(command: string): number {
  let ms = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command) ms += processCpuMs(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return ms;
}

/** "3.41 of 3.90 core-s busy (87%)" between two samples. */
export function describeBusy(from: MachineSample, to: MachineSample): string {
  const busy = (to.busyMs - from.busyMs) / 1000;
  const total = (to.totalMs - from.totalMs) / 1000;
  return `${busy.toFixed(2)} of ${total.toFixed(2)} core-s busy (${Math.round((100 * busy) / total)}%)`;
}
