/**
 * Byte-size constants and the parser for human sizes (`2GiB`, `512MB`, `4096`).
 *
 * Options in code take numbers of bytes (use the constants for readability); the CLI and
 * environment take strings, parsed here once so every front end agrees on what `2GiB` means.
 */

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: KiB, kb: 1000, kib: KiB,
  m: MiB, mb: 1000 ** 2, mib: MiB,
  g: GiB, gb: 1000 ** 3, gib: GiB,
  t: TiB, tb: 1000 ** 4, tib: TiB,
}

/** Parses `123`, `4KiB`, `1.5 GiB`, `10MB` into bytes; throws RangeError naming `what`. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) {
    throw new RangeError(`${what}: cannot parse size ${JSON.stringify(text)} (examples: 4096, 64MiB, 2GiB, 10GB)`)
  }
  return Math.floor(Number(m[1]) * unit)
}

/** Formats bytes for people: `1.50 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`
}
