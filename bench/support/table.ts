/**
 * What the harness prints: the notes of each per-round progress line, the terminal table
 * (one row per measurement id with medians, the spread of throughput across repetitions,
 * and the ratio to each baseline), then the targets. Plain fixed-width text so it reads the
 * same in a terminal, a CI log and the docs.
 */
import type { Measurement, Summary } from './results.js'
import type { Verdict } from './targets.js'

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n)
}

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-'
}

/** A share as a whole percentage; `-` when there is none (NaN: nothing to divide by). */
function pct(x: number | undefined): string {
  return x !== undefined && Number.isFinite(x) ? `${fmt(100 * x)}%` : '-'
}

/** The reader's figures of one sluice pass: a measurement's own, or a summary's medians. */
export interface PassFigures {
  sourceBytes?: number
  memoryHitRatio?: number
  diskHitRatio?: number
}

/**
 * `from source 403 MB, hits memory 0% disk 0%`: bytes fetched from the store in the pass and
 * each tier's hits over its lookups. A tier that saw no lookup (the disk tier while memory
 * serves every block) shows `-`, not 0%, which would read as misses. Undefined for passes
 * without a sluice reader (the baselines).
 */
export function sourceAndHits(f: PassFigures): string | undefined {
  if (f.sourceBytes === undefined) return undefined
  return `from source ${fmt(f.sourceBytes / 1e6)} MB, hits memory ${pct(f.memoryHitRatio)} disk ${pct(f.diskHitRatio)}`
}

function medians(s: Summary): PassFigures {
  const e = s.extra
  return { sourceBytes: e.sourceBytes?.median, memoryHitRatio: e.memoryHitRatio?.median, diskHitRatio: e.diskHitRatio?.median }
}

/** The tail of a per-round progress line: what one repetition's figures say beyond time and MB/s. */
export function progressNotes(m: Measurement): string {
  const e = m.extra
  const parts: string[] = []
  if (e.utilisationAfterFirstBatch !== undefined) parts.push(`AU ${pct(e.utilisationAfterFirstBatch)}`)
  else if (e.hitShare !== undefined && m.id.startsWith('loop')) parts.push(`not fetched ${pct(e.hitShare)}`)
  const source = sourceAndHits(e)
  if (source) parts.push(source)
  return parts.map((p) => `  ${p}`).join('')
}

function notes(s: Summary): string {
  const e = s.extra
  const parts: string[] = []
  if (e.utilisationAfterFirstBatch) parts.push(`AU ${fmt(100 * e.utilisationAfterFirstBatch.median)}% (whole epoch ${fmt(100 * e.utilisation!.median)}%)`)
  if (e.hitShare && s.id !== 'cold' && s.id !== 'accelerator' && s.id !== 'fuse_cold') parts.push(`bytes not fetched ${fmt(100 * e.hitShare.median)}% (min ${fmt(100 * e.hitShare.min)}%)`)
  const source = sourceAndHits(medians(s))
  if (source) parts.push(source)
  if (e.sourceGets && e.sourceGets.median > 0) {
    const inFlight = e.requestsInFlight ? `, ${fmt(e.requestsInFlight.median, 1)} in flight on average` : ''
    parts.push(`${fmt(e.sourceGets.median)} GETs${inFlight}`)
  }
  if (e.cpuSecondsPerGB) parts.push(`CPU ${fmt(e.cpuSecondsPerGB.median, 2)} s/GB, main thread busy ${fmt(100 * (e.mainThreadBusy?.median ?? NaN))}%, loop delay p99 ${fmt(e.loopDelayP99Ms?.median ?? NaN, 1)} ms`)
  return parts.join(', ')
}

export function renderTable(summaries: Summary[]): string {
  const head = [
    pad('measurement', 48),
    pad('epoch s', 8, true),
    pad('MB/s', 7, true),
    pad('(min-max)', 12, true),
    pad('rec/s', 7, true),
    pad('1st rec', 8, true),
    pad('wait', 5, true),
    pad('xSDK', 6, true),
    pad('%net', 5, true),
    pad('%local', 7, true),
    '  notes',
  ].join(' ')
  const lines = [head, '-'.repeat(head.length + 20)]
  for (const s of summaries) {
    lines.push(
      [
        pad(s.label.slice(0, 48), 48),
        pad(fmt(s.seconds.median, 2), 8, true),
        pad(fmt(s.mbPerSecond.median), 7, true),
        pad(s.mbPerSecond.n > 1 ? `(${fmt(s.mbPerSecond.min)}-${fmt(s.mbPerSecond.max)})` : '', 12, true),
        pad(fmt(s.recordsPerSecond.median), 7, true),
        pad(`${fmt(s.firstRecordMs.median)} ms`, 8, true),
        pad(`${fmt(100 * s.waitShare.median)}%`, 5, true),
        pad(s.ratios.sdk_sequential !== undefined ? `${s.ratios.sdk_sequential.toFixed(1)}x` : '-', 6, true),
        pad(s.ratios.parallel_ranged !== undefined ? `${fmt(100 * s.ratios.parallel_ranged)}%` : '-', 5, true),
        pad(s.ratios.local_pagecache_crc !== undefined ? `${fmt(100 * s.ratios.local_pagecache_crc)}%` : '-', 7, true),
        '  ' + notes(s),
      ].join(' '),
    )
  }
  return lines.join('\n')
}

export function renderTargets(verdicts: Verdict[]): string {
  return verdicts
    .map((v) => `  ${v.met === undefined ? 'n/a ' : v.met ? 'MET ' : 'MISS'}  ${pad(v.target, 86)} ${pad(v.value, 9, true)}  (target ${v.threshold})`)
    .join('\n')
}
