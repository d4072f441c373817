// The application's listeners, by event, and the one place they are called. A listener that
// throws never breaks the stream: the other listeners, the model and the driver go on, and what
// it threw reaches the 'error' listeners as a non-fatal ListenerError (console.error when there
// are none: it must not vanish). One thrown by an 'error' listener goes to console.error, once:
// reporting it to them again could recurse forever.

import { ListenerError, type OrdersLiveError } from './errors.js';

/** An events map with an 'error' event, where listener errors are reported. */
export type ListenerMap<E> = { [K in keyof E]: (...args: never[]) => void } & {
  error: (error: OrdersLiveError, fatal: boolean) => void;
};

type Args<F> = F extends (...args: infer A) => void ? A : never;
type Listener = (...args: unknown[]) => void;

export interface Listeners<E extends ListenerMap<E>> {
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(type: K, listener: E[K]): () => void;
  /** Calls every listener of `type`; never throws. */
  emit<K extends keyof E>(type: K, ...args: Args<E[K]>): void;
}

export function createListeners<E extends ListenerMap<E>>(): Listeners<E> {
  const byType = new Map<keyof E, Set<Listener>>();

  function call(type: keyof E, args: readonly unknown[]): void {
    for (const listener of byType.get(type) ?? []) {
      try {
        listener(...args);
      } catch (e) {
        threw(type, e);
      }
    }
  }

  function threw(type: keyof E, e: unknown): void {
    const error = new ListenerError(String(type), e);
    if (type === 'error' || !byType.get('error')?.size) reportToConsole(error);
    else call('error', [error, false]);
  }

  return {
    on(type, listener) {
      const listeners = byType.get(type) ?? new Set();
      byType.set(type, listeners);
      const added = listener as unknown as Listener;
      listeners.add(added);
      return () => void listeners.delete(added);
    },
    emit: (type, ...args) => call(type, args),
  };
}

/** Where an error goes that no listener can take: the console, in the browser and in Node. */
export function reportToConsole(error: OrdersLiveError): void {
  console.error(error);
}
