/**
 * The targets, checked against the summaries of one run. Each verdict carries the
 * figure and the threshold it was held to, so the report says by how much a target was met
 * or missed rather than only whether.
 */
import type { HarnessConfig } from './config.js'
import type { Summary } from './results.js'

export interface Verdict {
  target: string
  value: string
  threshold: string
  met: boolean | undefined
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`
const times = (x: number) => `${x.toFixed(1)}x`

export function checkTargets(summaries: Summary[], config: HarnessConfig, blockBytes: number): Verdict[] {
  const by = (id: string) => summaries.find((s) => s.id === id)
  const out: Verdict[] = []
  const add = (target: string, value: number | undefined, threshold: number, fmt: (x: number) => string, higherIsBetter = true) =>
    out.push({
      target,
      value: value === undefined || Number.isNaN(value) ? 'not measured' : fmt(value),
      threshold: `${higherIsBetter ? '>=' : '<='} ${fmt(threshold)}`,
      met: value === undefined || Number.isNaN(value) ? undefined : higherIsBetter ? value >= threshold : value <= threshold,
    })
  const cold = by('cold')
  add('cold epoch vs network limit (parallel ranged GETs)', cold?.ratios.parallel_ranged, 0.8, pct)
  add('cold epoch vs plain sequential SDK stream', cold?.ratios.sdk_sequential, 2, times)
  const coldMbps = cold?.mbPerSecond.median
  for (const id of ['warm_memory', 'warm_disk']) {
    const w = by(id)
    add(`${id.replace('_', ' ')} vs cold epoch`, w && coldMbps ? w.mbPerSecond.median / coldMbps : undefined, 5, times)
  }
  add('warm memory vs local limit (page cache + CRC)', by('warm_memory')?.ratios.local_pagecache_crc, 0.5, pct)
  for (let e = 2; e <= config.loopEpochs; e++) {
    const s = by(`loop_epoch${e}`)
    // The worst repetition must meet it: "every epoch after the first".
    add(`dataset 2x cache, epoch ${e}: bytes not fetched (worst run)`, s?.extra.hitShare?.min, 0.4, pct)
  }
  const acc = by('accelerator')
  const stepNote = acc ? `step ${acc.extra.stepMs?.median.toFixed(1)} ms asked, ${acc.extra.stepMsMeasured?.median.toFixed(1)} ms slept` : 'step ?'
  add(`accelerator utilisation from the 2nd batch (${stepNote})`, acc?.extra.utilisationAfterFirstBatch?.median, 0.9, pct)
  const m = config.model
  const bound = 2 * m.firstByteLatencyMs + (blockBytes / m.connectionBytesPerSecond) * 1000
  add(`cold time to first record (2 x latency + one ${blockBytes / 2 ** 20} MiB block at ${m.connectionBytesPerSecond / 1e6} MB/s)`, cold?.firstRecordMs.median, bound, (x) => `${x.toFixed(0)} ms`, false)
  return out
}
