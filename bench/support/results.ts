/**
 * Measurements and what is made of them: one `Measurement` per timed epoch (every repeat of
 * every scenario and baseline), written as a JSON line the moment it exists, then summarised
 * per measurement id as median and spread (min-max), with the ratio of each median to each
 * baseline's median. Throughput is always the dataset's file bytes over epoch time, in
 * decimal MB/s (the unit the remote-store model is stated in), so scenarios and baselines
 * that move the same bytes compare directly.
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { EpochTiming } from './epoch-consumer.js'

export type BaselineId = 'sdk_sequential' | 'parallel_ranged' | 'local_pagecache_crc'

export const BASELINE_LABELS: Record<BaselineId, string> = {
  sdk_sequential: 'plain sequential GetObject (AWS SDK)',
  parallel_ranged: 'parallel ranged GETs (network limit)',
  local_pagecache_crc: 'local files, page cache + CRC32C (local limit)',
}

export interface Measurement {
  /** Stable id, e.g. `cold`, `warm_memory`, `loop_epoch2`, `baseline_parallel_ranged`. */
  id: string
  label: string
  scenario: string
  kind: 'baseline' | 'scenario'
  repeat: number
  seconds: number
  /** File bytes the epoch covers (the dataset, or the part a scenario reads). */
  datasetBytes: number
  records: number
  mbPerSecond: number
  recordsPerSecond: number
  firstRecordMs: number
  /** Share of wall time the consumer spent waiting for data, 0..1. */
  waitShare: number
  /** Scenario-specific figures: hit ratios, bytes from the store, requests, utilisation. */
  extra: Record<string, number>
}

export function measurement(
  base: { id: string; label: string; scenario: string; kind: 'baseline' | 'scenario'; repeat: number; datasetBytes: number; records: number },
  t: EpochTiming,
  extra: Record<string, number> = {},
): Measurement {
  return {
    ...base,
    seconds: t.seconds,
    mbPerSecond: base.datasetBytes / 1e6 / t.seconds,
    recordsPerSecond: base.records / t.seconds,
    firstRecordMs: t.firstItemMs,
    waitShare: t.waitMs / 1000 / t.seconds,
    extra,
  }
}

export interface Stat {
  median: number
  min: number
  max: number
  n: number
}

export function stat(xs: number[]): Stat {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 }
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length }
}

export interface Summary {
  id: string
  label: string
  scenario: string
  kind: 'baseline' | 'scenario'
  seconds: Stat
  mbPerSecond: Stat
  recordsPerSecond: Stat
  firstRecordMs: Stat
  waitShare: Stat
  extra: Record<string, Stat>
  /** Median throughput over each baseline's median throughput. */
  ratios: Partial<Record<BaselineId, number>>
}

/** Groups by id in first-seen order and summarises each group. */
export function summarise(all: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>()
  for (const m of all) groups.set(m.id, [...(groups.get(m.id) ?? []), m])
  const out: Summary[] = []
  for (const ms of groups.values()) {
    const first = ms[0]!
    const extraKeys = [...new Set(ms.flatMap((m) => Object.keys(m.extra)))]
    out.push({
      id: first.id,
      label: first.label,
      scenario: first.scenario,
      kind: first.kind,
      seconds: stat(ms.map((m) => m.seconds)),
      mbPerSecond: stat(ms.map((m) => m.mbPerSecond)),
      recordsPerSecond: stat(ms.map((m) => m.recordsPerSecond)),
      firstRecordMs: stat(ms.map((m) => m.firstRecordMs)),
      waitShare: stat(ms.map((m) => m.waitShare)),
      extra: Object.fromEntries(extraKeys.map((k) => [k, stat(ms.map((m) => m.extra[k] ?? NaN))])),
      ratios: {},
    })
  }
  const baselines = new Map(out.filter((s) => s.kind === 'baseline').map((s) => [s.id.replace(/^baseline_/, '') as BaselineId, s.mbPerSecond.median]))
  for (const s of out) {
    for (const [b, mbps] of baselines) if (mbps > 0) s.ratios[b] = s.mbPerSecond.median / mbps
  }
  return out
}

/** Appends JSON lines to a results file, creating its directory. */
export class JsonLines {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
  }
  write(record: object): void {
    appendFileSync(this.path, JSON.stringify(record) + '\n')
  }
}
