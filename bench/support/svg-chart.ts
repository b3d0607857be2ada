/**
 * The chart docs/benchmark.md embeds, written by hand as SVG (no charting dependency): one row per
 * scenario measurement, two panels. Left: epoch time in seconds (linear). Right: throughput
 * in MB/s on a log scale, because the local limit is an order of magnitude above the network
 * ones and both must stay readable. Bars are medians, whiskers the min-max spread across
 * repetitions; the three baselines are vertical lines in both panels. The model's parameters
 * are in the title: every figure is under a model of a remote store, and the chart says so.
 */
import type { RemoteStoreModel } from './link-model.js'
import type { BaselineId, Summary } from './results.js'

const BASELINE_STYLE: Record<BaselineId, { color: string; dash: string; name: string }> = {
  sdk_sequential: { color: '#b45309', dash: '6 3', name: 'sequential GetObject' },
  parallel_ranged: { color: '#1d4ed8', dash: '2 2', name: 'network limit (parallel ranged GETs)' },
  local_pagecache_crc: { color: '#15803d', dash: '8 3 2 3', name: 'local limit (page cache + CRC)' },
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceMax(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p
  return 10 * p
}

export function renderChart(summaries: Summary[], model: RemoteStoreModel, subtitle: string): string {
  const rows = summaries.filter((s) => s.kind === 'scenario' && Number.isFinite(s.seconds.median))
  const baselines = summaries.filter((s) => s.kind === 'baseline')
  const W = 1060
  const labelW = 300
  const panelW = (W - labelW - 60) / 2
  const rowH = 24
  const top = 70
  const H = top + rows.length * rowH + 80
  const leftX = labelW
  const rightX = labelW + panelW + 40
  const maxT = niceMax(Math.max(...rows.map((r) => r.seconds.max), ...baselines.map((b) => b.seconds.median)) * 1.05)
  const xT = (s: number) => leftX + (s / maxT) * panelW
  const allMb = [...rows.flatMap((r) => [r.mbPerSecond.min, r.mbPerSecond.max]), ...baselines.map((b) => b.mbPerSecond.median)].filter((x) => x > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(...allMb)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...allMb)))
  const xM = (v: number) => rightX + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelW
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">sluice: epoch time and throughput per scenario (medians, whiskers min-max)</text>`)
  out.push(
    `<text x="12" y="40" fill="#444">Under a MODEL of a remote object store: ${model.firstByteLatencyMs} ms first-byte latency per request, ` +
      `${model.connectionBytesPerSecond / 1e6} MB/s per connection, ${model.aggregateBytesPerSecond / 1e6} MB/s aggregate. ${esc(subtitle)}</text>`,
  )
  out.push(`<text x="${leftX}" y="${top - 10}" font-weight="bold">epoch time, s (shorter is better)</text>`)
  out.push(`<text x="${rightX}" y="${top - 10}" font-weight="bold">throughput, MB/s, log scale (longer is better)</text>`)
  const bottom = top + rows.length * rowH
  // axes and ticks
  for (let i = 0; i <= 4; i++) {
    const v = (maxT * i) / 4
    out.push(`<line x1="${xT(v)}" y1="${top}" x2="${xT(v)}" y2="${bottom}" stroke="#eee"/>`)
    out.push(`<text x="${xT(v)}" y="${bottom + 14}" text-anchor="middle" fill="#555">${+v.toFixed(1)}</text>`)
  }
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${xM(d)}" y1="${top}" x2="${xM(d)}" y2="${bottom}" stroke="#eee"/>`)
    out.push(`<text x="${xM(d)}" y="${bottom + 14}" text-anchor="middle" fill="#555">${d}</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const cy = y + rowH / 2
    out.push(`<text x="${labelW - 8}" y="${cy + 4}" text-anchor="end">${esc(r.label)}</text>`)
    out.push(`<rect x="${leftX}" y="${y + 5}" width="${Math.max(1, xT(r.seconds.median) - leftX)}" height="${rowH - 10}" fill="#64748b"/>`)
    out.push(`<text x="${xT(r.seconds.median) + 4}" y="${cy + 4}" fill="#333" font-size="10">${r.seconds.median.toFixed(2)}</text>`)
    out.push(`<rect x="${rightX}" y="${y + 5}" width="${Math.max(1, xM(r.mbPerSecond.median) - rightX)}" height="${rowH - 10}" fill="#0f766e"/>`)
    if (r.mbPerSecond.n > 1) {
      out.push(`<line x1="${xM(r.mbPerSecond.min)}" y1="${cy}" x2="${xM(r.mbPerSecond.max)}" y2="${cy}" stroke="#111" stroke-width="1.2"/>`)
      out.push(`<line x1="${xT(r.seconds.min)}" y1="${cy}" x2="${xT(r.seconds.max)}" y2="${cy}" stroke="#111" stroke-width="1.2"/>`)
    }
    out.push(`<text x="${xM(r.mbPerSecond.median) + 4}" y="${cy + 4}" fill="#333" font-size="10">${r.mbPerSecond.median.toFixed(0)}</text>`)
  })
  let ly = bottom + 34
  let lx = 12
  for (const b of baselines) {
    const id = b.id.replace(/^baseline_/, '') as BaselineId
    const st = BASELINE_STYLE[id]
    if (!st) continue
    const line = (x: number) => `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="${st.color}" stroke-width="2" stroke-dasharray="${st.dash}"/>`
    if (b.seconds.median <= maxT) out.push(line(xT(b.seconds.median)))
    out.push(line(xM(b.mbPerSecond.median)))
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 30}" y2="${ly - 4}" stroke="${st.color}" stroke-width="2" stroke-dasharray="${st.dash}"/>`)
    const text = `${st.name}: ${b.mbPerSecond.median.toFixed(0)} MB/s, ${b.seconds.median.toFixed(2)} s`
    out.push(`<text x="${lx + 36}" y="${ly}">${esc(text)}</text>`)
    lx += 36 + text.length * 6.4 + 24
    if (lx > W - 300) {
      lx = 12
      ly += 18
    }
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
