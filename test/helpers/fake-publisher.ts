// A publisher without a broker, for the relay's tests: always connected, it publishes through the
// function a test gives (which decides when each batch is confirmed or fails).

import type { Publisher } from '../../src/bridge/publisher.js';

export function fakePublisher(publish: Publisher['publish'], more: Partial<Publisher> = {}): Publisher {
  return {
    connected: true,
    node: null,
    open: async () => undefined,
    reopen: async () => undefined,
    close: async () => undefined,
    publish,
    ...more,
  };
}
