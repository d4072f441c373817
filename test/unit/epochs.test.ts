// The gateway's view of the log's epochs (src/gateway/epochs.ts, invariant 9): what an epoch
// shares with the current one.

import { describe, expect, it } from 'vitest';
import { createEpochs } from '../../src/gateway/epochs.js';

describe('epochs.sharedWith', () => {
  const rows = [
    { epoch: 1, forkedAfter: 0 },
    { epoch: 2, forkedAfter: 120 },
    { epoch: 3, forkedAfter: 80 },
  ];

  it('shares everything with the current epoch', () => {
    const epochs = createEpochs(rows);
    expect(epochs.current).toBe(3);
    expect(epochs.sharedWith(3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('shares with an older epoch up to the lowest fork since it', () => {
    const epochs = createEpochs(rows);
    expect(epochs.sharedWith(2)).toBe(80);
    // Epoch 1 ran to at least 120 before epoch 2 forked; epoch 3 forked from 2 at 80.
    expect(epochs.sharedWith(1)).toBe(80);
  });

  it('shares nothing with an epoch it does not know, nor with one ahead of it', () => {
    const epochs = createEpochs(rows.slice(0, 2));
    expect(epochs.sharedWith(3)).toBe(0);
    expect(epochs.knows(3)).toBe(false);
    expect(epochs.sharedWith(7)).toBe(0);
  });

  it('learns a new epoch from the rows read again', () => {
    const epochs = createEpochs(rows.slice(0, 1));
    expect(epochs.sharedWith(1)).toBe(Number.POSITIVE_INFINITY);
    epochs.update(rows);
    expect(epochs.current).toBe(3);
    expect(epochs.sharedWith(1)).toBe(80);
    expect(epochs.knows(2)).toBe(true);
  });

  it('knows no epoch before any row', () => {
    const epochs = createEpochs();
    expect(epochs.current).toBe(0);
    expect(epochs.sharedWith(1)).toBe(0);
  });
});
