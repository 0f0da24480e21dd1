/** Small helpers shared by the benchmark scripts. */

/** One benchmark's result. */
export interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** Per-operation latency percentiles in microseconds, sampled in batches. */
  p50us: number;
  p99us: number;
  rssMb: number;
}

/** Runs `fn` repeatedly for about `seconds` (after a short warm-up) and reports throughput. */
export function measure(name: string, seconds: number, fn: () => void): Measurement {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn();
  const batch = 1000;
  const samples: number[] = [];
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    const t0 = performance.now();
    for (let k = 0; k < batch; k++) fn();
    now = performance.now();
    samples.push(((now - t0) * 1000) / batch);
    ops += batch;
  }
  const elapsed = (now - start) / 1000;
  samples.sort((a, b) => a - b);
  return {
    name,
    ops,
    seconds: elapsed,
    opsPerSec: ops / elapsed,
    p50us: percentile(samples, 0.5),
    p99us: percentile(samples, 0.99),
    rssMb: process.memoryUsage().rss / 1024 / 1024,
  };
}

/** The q-quantile (0..1) of a sorted array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Prints results as an aligned table. */
export function printTable(rows: readonly Measurement[]): void {
  const head = ['benchmark', 'ops/s', 'p50 µs', 'p99 µs', 'RSS MB'];
  const body = rows.map((m) => [
    m.name,
    Math.round(m.opsPerSec).toLocaleString('en-US'),
    m.p50us.toFixed(2),
    m.p99us.toFixed(2),
    m.rssMb.toFixed(0),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}
