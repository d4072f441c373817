// The one logger (pino, JSON lines on stdout); parts take scoped children.

import { type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ name: 'orders-live', level, base: { pid: process.pid } }, destination);
}
