/**
 * Preload progress for people: a bar with bytes, rate and ETA on a terminal (cli-progress),
 * plain log lines every few seconds otherwise, so CI logs and `kubectl logs` stay readable.
 */
import cliProgress from 'cli-progress'
import { formatBytes, type PreloadProgress } from '../../lib/index.js'

export interface ProgressReporter {
  update(p: PreloadProgress): void
  stop(): void
}

function rateOf(bytes: number, startedMs: number): number {
  const seconds = (Date.now() - startedMs) / 1000
  return seconds > 0 ? bytes / seconds : 0
}

function etaOf(p: PreloadProgress, rate: number): string {
  if (rate <= 0 || p.bytesDone >= p.bytesTotal) return '-'
  const s = Math.round((p.bytesTotal - p.bytesDone) / rate)
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

export function createProgress(stream: NodeJS.WriteStream, options: { intervalMs?: number } = {}): ProgressReporter {
  const started = Date.now()
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'preload |{bar}| {percentage}% {done} / {total}  {rate}/s  ETA {etaText}  {objects}',
        hideCursor: true,
        barsize: 30,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    )
    let begun = false
    let stopped = false
    return {
      update(p) {
        const rate = rateOf(p.bytesDone, started)
        const payload = {
          done: formatBytes(p.bytesDone),
          total: formatBytes(p.bytesTotal),
          rate: formatBytes(Math.round(rate)),
          etaText: etaOf(p, rate),
          objects: `${p.objectsDone}/${p.objectsTotal} objects`,
        }
        if (!begun) {
          bar.start(Math.max(1, p.bytesTotal), p.bytesDone, payload)
          begun = true
        } else {
          bar.setTotal(Math.max(1, p.bytesTotal))
          bar.update(p.bytesDone, payload)
        }
      },
      stop() {
        if (begun && !stopped) bar.stop()
        stopped = true
      },
    }
  }
  const intervalMs = options.intervalMs ?? 5000
  let last = 0
  let latest: PreloadProgress | undefined
  let stopped = false
  const line = (p: PreloadProgress) => {
    const rate = rateOf(p.bytesDone, started)
    const pct = p.bytesTotal > 0 ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(1) : '100.0'
    stream.write(`preload: ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} (${pct}%), ${formatBytes(Math.round(rate))}/s, ETA ${etaOf(p, rate)}, ${p.objectsDone}/${p.objectsTotal} objects\n`)
  }
  return {
    update(p) {
      latest = p
      const now = Date.now()
      if (now - last >= intervalMs) {
        last = now
        line(p)
      }
    },
    stop() {
      if (!stopped && latest !== undefined) line(latest)
      stopped = true
    },
  }
}
