// Progress lines on stderr: one per step, with the time since the run started, so a reader of a
// long run sees where it is and what is slow. The report itself goes to stdout and files.

const started = performance.now();

export type Progress = (message: string) => void;

/** A progress function whose lines are prefixed with `scope`. */
export function createProgress(scope: string): Progress {
  return (message) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[bench ${seconds}s] ${scope}: ${message}\n`);
  };
}
