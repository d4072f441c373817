// What a client has not yet taken: the bytes waiting for it in engine.io's write buffer and in its
// websocket's send buffer (what the kernel took is not counted: it is not this process's memory).
// Read through engine.io's and ws's own fields, which their typings do not expose.

import type { Socket } from 'socket.io';

export type Drain = 'drained' | 'closed' | 'stalled';

interface EngineConnection {
  readyState: string;
  writeBuffer?: { data?: unknown }[];
  transport?: NodeJS.EventEmitter & { socket?: { bufferedAmount?: number } };
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** Bytes (UTF-16 code units for text packets, a close estimate) not yet handed to the kernel. */
export function bufferedBytes(socket: Pick<Socket, 'conn'>): number {
  const conn = socket.conn as unknown as EngineConnection;
  let bytes = 0;
  for (const packet of conn.writeBuffer ?? []) {
    const { data } = packet;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes += data.byteLength;
  }
  return bytes + (conn.transport?.socket?.bufferedAmount ?? 0);
}

/** How often a waiting replay re-checks the buffer when no engine event told it to. */
const RECHECK_MS = 50;

/**
 * Resolves once the client's unsent bytes are at most `lowWaterBytes` ('drained'), when it
 * disconnects ('closed'), or after `stallMs` without draining ('stalled').
 */
export function whenDrained(socket: Socket, lowWaterBytes: number, stallMs: number): Promise<Drain> {
  const conn = socket.conn as unknown as EngineConnection;
  const check = (): Drain | null => {
    if (!socket.connected || conn.readyState === 'closed') return 'closed';
    return bufferedBytes(socket) <= lowWaterBytes ? 'drained' : null;
  };
  const now = check();
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const transport = conn.transport;
    const deadline = setTimeout(() => finish(check() ?? 'stalled'), stallMs);
    const poll = setInterval(recheck, RECHECK_MS);
    // The transport's 'drain' comes just before it is writable again: look a tick later.
    const onTransportDrain = () => setImmediate(recheck);
    conn.on('drain', recheck);
    conn.on('close', recheck);
    transport?.on('drain', onTransportDrain);
    function recheck(): void {
      const outcome = check();
      if (outcome) finish(outcome);
    }
    function finish(outcome: Drain): void {
      clearTimeout(deadline);
      clearInterval(poll);
      conn.off('drain', recheck);
      conn.off('close', recheck);
      transport?.off('drain', onTransportDrain);
      resolve(outcome);
    }
  });
}
