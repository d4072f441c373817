// The shape of one benchmark: a name for `npm run bench -- <name>`, and a run that gets the run's
// shared context and returns tables, targets and notes (all measured, nothing hard-coded).

import type { ProcessGroup } from './process-group.js';
import type { Progress } from './progress.js';
import type { BenchResult } from './report.js';
import type { BenchSettings } from './settings.js';

export interface BenchContext {
  readonly settings: BenchSettings;
  readonly processes: ProcessGroup;
  readonly progress: Progress;
  /** Registers a cleanup; they run in reverse order when the benchmark ends, failed or not. */
  defer(cleanup: () => unknown): void;
  /** `--quick`: shorter runs for developing the harness; figures are not for BENCHMARKS.md. */
  readonly quick: boolean;
  /** Results of benchmarks that already ran in this run, by name. */
  readonly earlier: ReadonlyMap<string, BenchResult>;
}

export type BenchOutput = Pick<BenchResult, 'method' | 'tables' | 'targets' | 'notes' | 'data'>;

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(context: BenchContext): Promise<BenchOutput>;
}
