/**
 * The victim of the crash test: fills the disk tier of a shared cacheDir as hard as it can
 * (memory tier off, several objects read concurrently, a block size chosen by the parent so
 * that every round writes new blocks and eviction runs once the tier is full), and prints
 * `filling` once the first block has been read, so the parent's kill -9 lands mid-fill.
 * It never finishes on its own: it loops until killed.
 */
import { BlockReader } from '../../lib/index.js'

const [cacheDir, blockSizeArg, diskMaxArg, ...urls] = process.argv.slice(2)
const blockSize = Number(blockSizeArg)
const reader = new BlockReader({
  cacheDir: cacheDir!,
  blockSize,
  memory: { maxBytes: 0 },
  disk: { maxBytes: Number(diskMaxArg) },
  prefetch: { maxReadAheadBytes: 0 },
})
let said = false
let pass = 0
for (;;) {
  pass++
  // Rotate the start so each pass fills in a different order.
  const order = urls.map((_, i) => urls[(i + pass) % urls.length]!)
  await Promise.all(
    [0, 1, 2, 3].map(async (lane) => {
      for (let i = lane; i < order.length; i += 4) {
        const h = await reader.open(order[i]!)
        for (let pos = 0; pos < h.size; pos += blockSize) {
          await h.read(pos, blockSize)
          if (!said) {
            said = true
            process.stdout.write('filling\n')
          }
        }
        await h.close()
      }
    }),
  )
}
