// The broker's nodes (src/amqp/broker-nodes.ts): a link moves on to the next node, round the
// list, and /readyz names a node by host and port.

import { describe, expect, it } from 'vitest';
import { createBrokerNodes, nodeAddress } from '../../src/amqp/broker-nodes.js';

describe('broker nodes', () => {
  it('tries the nodes in turn, round the list, one move per failure', () => {
    const nodes = createBrokerNodes(['amqp://a', 'amqp://b', 'amqp://c']);
    const tried: string[] = [];
    for (let i = 0; i < 5; i++) {
      tried.push(nodes.current);
      nodes.moveOn();
    }
    expect(tried).toEqual(['amqp://a', 'amqp://b', 'amqp://c', 'amqp://a', 'amqp://b']);
  });

  it('stays on its one node when there is only one', () => {
    const nodes = createBrokerNodes(['amqp://a']);
    nodes.moveOn();
    expect(nodes.current).toBe('amqp://a');
    expect(() => createBrokerNodes([])).toThrow('no broker URL');
  });

  it('names a node by host and port, with the protocol default when the URL has none', () => {
    expect(nodeAddress('amqp://guest:secret@10.0.0.5:5681/vhost?heartbeat=5')).toBe('10.0.0.5:5681');
    expect(nodeAddress('amqp://rabbit-1')).toBe('rabbit-1:5672');
    expect(nodeAddress('amqps://rabbit-2')).toBe('rabbit-2:5671');
  });
});
