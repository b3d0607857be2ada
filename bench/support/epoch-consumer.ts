/**
 * How the benchmark consumes an epoch, identically for every scenario and baseline: pull
 * items from an async iterable, and time what a training loop would feel. It measures wall
 * time, time to the first item, and the time spent inside `next()` (waiting for data),
 * whose share of wall time is the "waiting for data" column.
 *
 * `acceleratorEpoch` adds a simulated accelerator step after each batch, as MLPerf Storage's
 * DLIO does (a sleep: the accelerator is another device, the host CPU is free meanwhile), and
 * reports accelerator utilisation the way MLPerf Storage defines it: time the accelerator was
 * busy over wall time. The step's real duration is measured (timers overshoot by about a
 * millisecond), so utilisation is never overstated.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface EpochTiming {
  seconds: number
  /** Items delivered (records, or chunks for byte streams). */
  items: number
  /** Bytes delivered (record payloads, or raw bytes for byte streams). */
  bytes: number
  /** From the start of the epoch (before the iterable is created) to the first item, ms. */
  firstItemMs: number
  /** Time spent awaiting `next()`, ms. */
  waitMs: number
}

export interface AcceleratorTiming extends EpochTiming {
  batches: number
  stepMs: number
  /** Measured time the simulated accelerator was busy, ms. */
  busyMs: number
  /** busy / wall over the whole epoch. */
  utilisation: number
  /** busy / wall from the moment the first batch arrived (the "from the second batch on"). */
  utilisationAfterFirstBatch: number
}

type Sized = { length: number }

/** Consumes `make()`'s items; `sizeOf` says how many bytes an item carries. */
export async function timeEpoch<T>(make: () => AsyncIterable<T>, sizeOf: (item: T) => number = (x) => (x as Sized).length): Promise<EpochTiming> {
  const start = performance.now()
  const it = make()[Symbol.asyncIterator]()
  let items = 0
  let bytes = 0
  let waitMs = 0
  let firstItemMs = NaN
  for (;;) {
    const t = performance.now()
    const r = await it.next()
    const now = performance.now()
    waitMs += now - t
    if (r.done) break
    if (items === 0) firstItemMs = now - start
    items++
    bytes += sizeOf(r.value)
  }
  return { seconds: (performance.now() - start) / 1000, items, bytes, firstItemMs, waitMs }
}

/** Consumes batches (arrays of records), sleeping `stepMs` after each as the accelerator step. */
export async function acceleratorEpoch(make: () => AsyncIterable<Uint8Array[]>, stepMs: number): Promise<AcceleratorTiming> {
  const start = performance.now()
  const it = make()[Symbol.asyncIterator]()
  let items = 0
  let bytes = 0
  let waitMs = 0
  let busyMs = 0
  let batches = 0
  let firstItemMs = NaN
  let firstBatchAt = NaN
  let debtMs = 0
  for (;;) {
    const t = performance.now()
    const r = await it.next()
    const now = performance.now()
    waitMs += now - t
    if (r.done) break
    if (batches === 0) {
      firstItemMs = now - start
      firstBatchAt = now
    }
    batches++
    items += r.value.length
    for (const rec of r.value) bytes += rec.length
    // Sleep to the step's budget, carrying any overshoot into the next step: a timer fires
    // late when the event loop is busy (with the reader's own work), but a real accelerator's
    // step does not get longer for that, so over the epoch the steps must add up to
    // batches x stepMs, not to more (which would ask less of the data path than claimed).
    const s = performance.now()
    const target = stepMs - debtMs
    if (target > 0) await sleep(target)
    const slept = performance.now() - s
    debtMs = slept - target
    busyMs += slept
  }
  const end = performance.now()
  return {
    seconds: (end - start) / 1000,
    items,
    bytes,
    firstItemMs,
    waitMs,
    batches,
    stepMs,
    busyMs,
    utilisation: busyMs / (end - start),
    utilisationAfterFirstBatch: busyMs / (end - firstBatchAt),
  }
}
