// Service lifecycle: every long-running part is a Service; `startServices` starts them in order
// and returns a group that stops them in reverse order under a deadline. No I/O of its own.

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Idempotent; clears every timer and closes every connection the service opened. */
  stop(): Promise<void>;
}

export interface ServiceGroup {
  stop(deadlineMs: number): Promise<{ timedOut: string[] }>;
}

/** Starts services one by one; when one fails to start, stops those already started and throws. */
export async function startServices(services: readonly Service[]): Promise<ServiceGroup> {
  const started: Service[] = [];
  try {
    for (const service of services) {
      await service.start();
      started.push(service);
    }
  } catch (e) {
    await stopAll(started, 5_000);
    throw e;
  }
  let stopping: Promise<{ timedOut: string[] }> | undefined;
  return {
    stop(deadlineMs) {
      stopping ??= stopAll(started, deadlineMs);
      return stopping;
    },
  };
}

async function stopAll(services: readonly Service[], deadlineMs: number): Promise<{ timedOut: string[] }> {
  const timedOut: string[] = [];
  const deadline = Date.now() + deadlineMs;
  for (const service of [...services].reverse()) {
    const left = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), left);
    });
    const outcome = await Promise.race([service.stop().then(() => 'stopped' as const), expired]).finally(() =>
      clearTimeout(timer),
    );
    if (outcome === 'timeout') timedOut.push(service.name);
  }
  return { timedOut };
}
