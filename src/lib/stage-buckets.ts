// Histogram buckets for the pipeline's stages (commit → numbered → handed to the broker →
// received by a gateway → emitted), in seconds. Fine below 5 ms, where a healthy stage lives,
// so that p50 and p99 read from the buckets are within a bucket's width of the real ones.

export const STAGE_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02,
  0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
