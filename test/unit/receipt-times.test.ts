// The gateway's received → emitted timing: each feed message waits until its last position is
// broadcast, repeats and stuck messages do not pile up.

import { describe, expect, it } from 'vitest';
import { createReceiptTimes } from '../../src/gateway/receipt-times.js';

describe('createReceiptTimes', () => {
  it('times each message from its receipt to the broadcast of its last position', () => {
    const receipts = createReceiptTimes();
    receipts.received(5, 100);
    receipts.received(9, 103);
    expect(receipts.broadcast(4, 110)).toEqual([]);
    expect(receipts.broadcast(7, 111)).toEqual([11]);
    expect(receipts.broadcast(9, 112)).toEqual([9]);
    expect(receipts.size).toBe(0);
  });

  it('keeps at most its capacity, dropping the oldest', () => {
    const receipts = createReceiptTimes(3);
    for (let p = 1; p <= 10; p++) receipts.received(p, p);
    expect(receipts.size).toBe(3);
    expect(receipts.broadcast(10, 20)).toEqual([12, 11, 10]);
  });

  it('stays small over many messages broadcast one by one', () => {
    const receipts = createReceiptTimes();
    for (let p = 1; p <= 50_000; p++) {
      receipts.received(p, p);
      expect(receipts.broadcast(p, p + 1)).toEqual([1]);
    }
    expect(receipts.size).toBe(0);
  });
});
