// The one logger (pino); parts take scoped children. JSON lines on stdout for machines, or one
// readable line per entry for a person at a terminal (LOG_FORMAT, see config.ts). Formatting
// never throws: a line it cannot read is written as it came.

import { type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

export function createLogger(
  level: LogLevel,
  destination?: pino.DestinationStream,
  format: LogFormat = 'json',
): Logger {
  const out = format === 'pretty' ? prettyStream(destination ?? process.stdout) : destination;
  return pino({ name: 'orders-live', level, base: { pid: process.pid } }, out);
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
/** Wide enough for the longest scope, `bridge/leader-lock`, so that messages line up. */
const SCOPE_WIDTH = 18;
/** Fields every line has, or that the line shows in front: not repeated as key=value. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'role', 'part', 'err']);

/**
 * One pino JSON line as a person reads it:
 * `12:00:01.234 INFO  bridge  became leader  position=1200`, an error's stack indented below.
 */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level);
  const scope = [entry.role, entry.part].filter((s) => typeof s === 'string').join('/');
  const fields = Object.entries(entry)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const err = entry.err as { message?: string; stack?: string } | undefined;
  const head = [time, level, scope.padEnd(SCOPE_WIDTH), String(entry.msg ?? ''), ...fields]
    .filter(Boolean)
    .join('  ');
  const tail = err ? `\n    ${(err.stack ?? err.message ?? '').split('\n').join('\n    ')}` : '';
  return `${head}${tail}`;
}

function prettyStream(target: { write(chunk: string): unknown }): pino.DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) target.write(`${formatLogLine(line)}\n`);
    },
  };
}
