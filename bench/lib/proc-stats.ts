// CPU time and memory of a process, from /proc/<pid>/stat and /proc/<pid>/status (Linux), sampled
// over a measurement window: CPU as a share of one core, RSS as the largest value seen.

import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_S = 100;
/** RSS sampling period: short enough to see a peak that lasts a fraction of a second. */
const SAMPLE_EVERY_MS = 200;

export interface ProcSnapshot {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
}

export interface ProcUsage {
  /** CPU seconds per wall second over the window (1 = one core busy). */
  cpuCores: number;
  maxRssBytes: number;
  endRssBytes: number;
}

export function readProc(pid: number): ProcSnapshot {
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S; // utime, stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return { cpuSeconds, rssBytes: rssKb * 1024 };
}

/** Starts sampling `pid`; `stop()` returns the usage over the window. */
export function sampleProc(pid: number): { stop(): ProcUsage } {
  const first = readProc(pid);
  const started = performance.now();
  let maxRss = first.rssBytes;
  const timer = setInterval(() => {
    try {
      maxRss = Math.max(maxRss, readProc(pid).rssBytes);
    } catch {
      // the process ended; stop() reports what was seen
    }
  }, SAMPLE_EVERY_MS);
  return {
    stop() {
      clearInterval(timer);
      let last: ProcSnapshot;
      try {
        last = readProc(pid);
      } catch {
        last = { cpuSeconds: first.cpuSeconds, rssBytes: maxRss }; // ended: its time is lost with it
      }
      const wall = (performance.now() - started) / 1000;
      maxRss = Math.max(maxRss, last.rssBytes);
      return {
        cpuCores: (last.cpuSeconds - first.cpuSeconds) / wall,
        maxRssBytes: maxRss,
        endRssBytes: last.rssBytes,
      };
    },
  };
}

/** Starts measuring the whole machine's CPU (/proc/stat); `stop()` returns busy cores on average. */
export function sampleMachineCpu(): { stop(): number } {
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  };
  const first = read();
  const started = performance.now();
  return {
    stop() {
      const last = read();
      return (last.busy - first.busy) / CLOCK_TICKS_PER_S / ((performance.now() - started) / 1000);
    },
  };
}

/** Pids whose command line matches, e.g. RabbitMQ's beam.smp. */
export function findProcesses(match: (cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Starts sampling several processes; `stop()` returns their CPU summed, in cores. */
export function sampleCpuOf(pids: readonly number[]): { stop(): number } {
  const samples = pids.flatMap((pid) => {
    try {
      return [sampleProc(pid)];
    } catch {
      return [];
    }
  });
  return { stop: () => samples.reduce((n, s) => n + s.stop().cpuCores, 0) };
}
