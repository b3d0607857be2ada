/**
 * Parsing option values (sizes, durations, counts) into numbers, with messages that name the
 * option. Sizes use the core's parser so `2GiB` means the same everywhere.
 */
import { parseSize } from '../../lib/index.js'
import { UsageError } from './exit-codes.js'

export function sizeOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  try {
    return parseSize(value, `--${option}`)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function countOption(value: string | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) {
    throw new UsageError(`--${option}: expected a whole number >= ${min}, got ${JSON.stringify(value)}`)
  }
  return Number(value)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000 }

/** `500ms`, `30s`, `5m`, `1h`; a bare number is seconds. Returns milliseconds. */
export function durationOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|)\s*$/i.exec(value)
  if (!m) throw new UsageError(`--${option}: cannot parse duration ${JSON.stringify(value)} (examples: 500ms, 30s, 5m, 1h; a bare number is seconds)`)
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!)
}

export function portOption(value: string | undefined, option: string): number | undefined {
  const port = countOption(value, option, 0)
  if (port !== undefined && port > 65535) throw new UsageError(`--${option}: port must be 0-65535, got ${port}`)
  return port
}
