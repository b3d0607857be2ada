/**
 * What the disk tier's admission policy keeps (`node dist/bench/admission.js`): one
 * long-lived BlockReader over a 64 MiB disk tier, as a mount daemon is, through three
 * scenarios, each on a fresh cache directory; the figure per epoch is the bytes fetched from
 * the source (MiB). Objects are 8 MiB and read front to back with the reader's default
 * read-ahead; the memory tier is 8 MiB, a working buffer, so the disk tier is what repeats
 * are served from. Fills are flushed after each object, as a network slow enough to let them
 * land would.
 *
 * - new-after-old: dataset A (56 MiB) read five times, then dataset B (56 MiB) five times;
 * - loop: 128 MiB (twice the tier) six times, and 112 MiB (1.75 times) six times;
 * - hot+scan: a hot set read every epoch, plus once a scan of 64 MiB after it; the hot set is
 *   1/8 of the tier, and 1/4 to show where the protected share ends.
 *
 * It prints the configuration, then one JSON line. It uses the public API only, so the same
 * file runs against an earlier commit for the old policy's figures. Env: ADMISSION_BLOCKS
 * (block sizes in MiB, comma-separated; default "1,4").
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlockReader, MemorySource, MiB } from '../lib/index.js'

const TIER = 64 * MiB
const MEMORY = 8 * MiB
const OBJECT = 8 * MiB
const BLOCKS = (process.env.ADMISSION_BLOCKS ?? '1,4').split(',').map((s) => Number(s) * MiB)

/** One epoch: the URLs it reads, in order. */
export type Epoch = string[]

function objects(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `mem://bench/${prefix}/${i}`)
}

/**
 * Reads each epoch's objects front to back through `reader`, flushing its fills after each
 * object (MemorySource answers at once; a network would let them land); resolves to the
 * bytes fetched from `source` in each epoch. The admission tests read through it too.
 */
export async function bytesFetchedPerEpoch(reader: BlockReader, source: MemorySource, epochs: Epoch[]): Promise<number[]> {
  const buf = Buffer.alloc(64 * 1024)
  const fetched: number[] = []
  for (const epoch of epochs) {
    const before = source.bytesRead
    for (const url of epoch) {
      const h = await reader.open(url)
      for (let pos = 0; pos < h.size; ) pos += await h.readInto(buf, 0, pos, buf.length)
      await h.close()
      await reader.cache.flush()
    }
    fetched.push(source.bytesRead - before)
  }
  return fetched
}

async function runScenario(root: string, blockSize: number, epochs: Epoch[]): Promise<number[]> {
  const source = new MemorySource('mem')
  const content = Buffer.alloc(OBJECT, 7)
  for (const url of new Set(epochs.flat())) source.put(url, content)
  const reader = new BlockReader({
    sources: [source],
    cacheDir: await mkdtemp(join(root, 'cache-')),
    blockSize,
    memory: { maxBytes: MEMORY },
    disk: { maxBytes: TIER },
  })
  try {
    return (await bytesFetchedPerEpoch(reader, source, epochs)).map((bytes) => Math.round((bytes / MiB) * 10) / 10)
  } finally {
    await reader.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()

async function main(): Promise<void> {
  const a = objects('a', 7)
  const b = objects('b', 7)
  const hot8 = objects('hot', 1)
  const hot16 = objects('hot', 2)
  const scan = objects('scan', 8)
  const repeat = (epoch: Epoch, n: number): Epoch[] => Array.from({ length: n }, () => epoch)
  const scenarios: Record<string, Epoch[]> = {
    newAfterOld: [...repeat(a, 5), ...repeat(b, 5)],
    loop2x: repeat(objects('loop', 16), 6),
    loop175x: repeat(objects('loop', 14), 6),
    hot8PlusScan: [...repeat(hot8, 3), [...hot8, ...scan], ...repeat(hot8, 2)],
    hot16PlusScan: [...repeat(hot16, 3), [...hot16, ...scan], ...repeat(hot16, 2)],
  }

  console.log(`admission bench: disk tier ${TIER / MiB} MiB, memory tier ${MEMORY / MiB} MiB, objects of ${OBJECT / MiB} MiB, blocks of ${BLOCKS.map((s) => s / MiB).join(' and ')} MiB`)
  console.log('figures: MiB fetched from the source per epoch')
  console.log('  newAfterOld: A (56 MiB) x5, then B (56 MiB) x5')
  console.log('  loop2x / loop175x: 128 / 112 MiB x6')
  console.log('  hot8PlusScan / hot16PlusScan: a hot set of 8 / 16 MiB every epoch; the 4th epoch also scans 64 MiB after it')
  const root = await mkdtemp(join(tmpdir(), 'sluice-admission-'))
  const out: Record<string, Record<string, number[]>> = {}
  try {
    for (const blockSize of BLOCKS) {
      const figures: Record<string, number[]> = {}
      for (const [name, epochs] of Object.entries(scenarios)) figures[name] = await runScenario(root, blockSize, epochs)
      out[`${blockSize / MiB}MiB`] = figures
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
  console.log(JSON.stringify({ bench: 'admission', tierMiB: TIER / MiB, memoryMiB: MEMORY / MiB, objectMiB: OBJECT / MiB, blocks: out }))
}
