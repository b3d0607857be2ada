/**
 * The fuzz harness shared by test/fuzz-tfrecord.test.ts (a bounded run in npm test) and
 * bench/fuzz.ts (a long run): random mutations of real TFRecord files (a synthetic one plus
 * the TensorFlow-written ones in test/fixtures/tensorflow-tfrecord) read through the real
 * BlockReader and the TFRecord iterator, and mutations of real Example payloads through the
 * decoder.
 *
 * A case passes when it ends (within HANG_MS) with records or with a typed sluice error
 * (ERR_SLUICE_TFRECORD_CORRUPT for framing, ERR_SLUICE_EXAMPLE_DECODE for decoding); any
 * other throw, a hang, or memory growth past the bound fails. Mutations include forged record
 * lengths with verification off, so the length bound is exercised, not just the CRC.
 */
import { readFileSync } from 'node:fs'
import { BlockReader, MemorySource, MiB } from '../../lib/index.js'
import { decodeExample, encodeExample, tfrecords, type TFRecordOptions } from '../../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../../loaders/tfrecord/writer.js'
import { prng } from './data.js'
import { tensorflowFixture } from './tfrecord-fixtures.js'

const HANG_MS = 10_000

export interface CorpusFile {
  name: string
  bytes: Uint8Array
  compression: 'none' | 'gzip'
}

export interface FuzzFigures {
  cases: number
  readOk: number
  corruptErrors: number
  decodeCases: number
  decodeOk: number
  decodeErrors: number
  peakRssMiB: number
  failures: string[]
}

/** A synthetic file with Example payloads and the TensorFlow-written fixtures (which must exist). */
export function fuzzCorpus(): CorpusFile[] {
  const out: CorpusFile[] = []
  const synthetic = Array.from({ length: 40 }, (_, i) =>
    encodeExample({ id: [BigInt(i)], label: `label-${i}`, x: new Float32Array([i, i / 2, -i]) }),
  )
  out.push({ name: 'synthetic.tfrecord', bytes: encodeTFRecords(synthetic), compression: 'none' })
  const mnist = readFileSync(tensorflowFixture('tfx_mnist_1000.tfrecord'))
  // A prefix of the real file keeps each case fast while keeping real records and framing.
  out.push({ name: 'tfx_mnist_1000 (first 40 records)', bytes: new Uint8Array(mnist.subarray(0, 40 * 3203)), compression: 'none' })
  const penguin = readFileSync(tensorflowFixture('tfx_penguin_train_234.tfrecord.gz'))
  out.push({ name: 'tfx_penguin_train_234.tfrecord.gz', bytes: new Uint8Array(penguin), compression: 'gzip' })
  return out
}

function mutate(src: Uint8Array, random: () => number): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src)
  const at = () => Math.floor(random() * Math.max(1, b.length))
  const steps = 1 + Math.floor(random() * 4)
  for (let s = 0; s < steps; s++) {
    const op = Math.floor(random() * 8)
    if (op === 0 && b.length) b[at()]! ^= 1 << Math.floor(random() * 8) // bit flip
    else if (op === 1 && b.length) b[at()] = [0, 0xff, 0x7f, 0x80][Math.floor(random() * 4)]! // edge byte
    else if (op === 2) b = b.subarray(0, at()) // truncate
    else if (op === 3) {
      // forge a record length (u64 LE) at a record-ish boundary: small, huge, or just past the end
      const p = Math.min(at(), Math.max(0, b.length - 8))
      const v = [0n, 1n, 0xffffffffn, 1n << 40n, 0xffffffffffffffffn, BigInt(b.length), 300n * 1024n * 1024n][Math.floor(random() * 7)]!
      if (b.length >= 8) new DataView(b.buffer, b.byteOffset).setBigUint64(p, v, true)
    } else if (op === 4) {
      const p = at()
      const ins = new Uint8Array(1 + Math.floor(random() * 32)).map(() => Math.floor(random() * 256))
      b = Uint8Array.from([...b.subarray(0, p), ...ins, ...b.subarray(p)])
    } else if (op === 5 && b.length > 2) {
      const p = at()
      b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(Math.min(b.length, p + 1 + Math.floor(random() * 64)))])
    } else if (op === 6 && b.length > 16) {
      const p = at()
      b = Uint8Array.from([...b, ...b.subarray(p, p + 1 + Math.floor(random() * 4096))]) // duplicate a tail slice
    } else if (op === 7) {
      b = Uint8Array.from([...b.subarray(0, at()), ...new Uint8Array(Math.floor(random() * 16)).fill(0xff)])
    }
  }
  return b
}

function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`HANG: ${what} did not finish in ${HANG_MS} ms`)), HANG_MS))),
  ])
}

const codeOf = (err: unknown) => (err as { code?: string })?.code

/** Runs `cases` mutated files and as many mutated Example payloads; never throws for a case. */
export async function runFuzz(cases: number, seed = 1, onProgress?: (f: FuzzFigures) => void): Promise<FuzzFigures> {
  const corpus = fuzzCorpus()
  const random = prng(seed)
  const source = new MemorySource('fuzz')
  const reader = new BlockReader({ sources: [source], memory: { maxBytes: 32 * MiB }, blockSize: 64 * 1024, prefetch: { maxReadAheadBytes: 0 } })
  const f: FuzzFigures = { cases: 0, readOk: 0, corruptErrors: 0, decodeCases: 0, decodeOk: 0, decodeErrors: 0, peakRssMiB: 0, failures: [] }
  // Real Example payloads to mutate for the decoder.
  const payloads: Uint8Array[] = []
  for (const file of corpus) {
    const url = `fuzz://corpus/${payloads.length}-${file.name.replace(/\W/g, '_')}`
    source.put(url, file.bytes)
    for await (const r of tfrecords(reader, url, { compression: file.compression })) if (payloads.length < 400) payloads.push(Uint8Array.from(r))
  }
  try {
    for (let i = 0; i < cases; i++) {
      const file = corpus[i % corpus.length]!
      const bytes = mutate(file.bytes, random)
      const url = `fuzz://cases/${i}.tfrecord`
      source.put(url, bytes)
      const options: TFRecordOptions = { compression: random() < 0.2 ? 'auto' : file.compression, verify: random() < 0.8, maxRecordBytes: random() < 0.5 ? 256 * MiB : 1 * MiB }
      f.cases++
      try {
        await withDeadline(
          (async () => {
            for await (const r of tfrecords(reader, url, options)) {
              try {
                decodeExample(r)
              } catch (err) {
                if (codeOf(err) !== 'ERR_SLUICE_EXAMPLE_DECODE') throw err
              }
            }
          })(),
          `case ${i} (${file.name})`,
        )
        f.readOk++
      } catch (err) {
        if (codeOf(err) === 'ERR_SLUICE_TFRECORD_CORRUPT') f.corruptErrors++
        else f.failures.push(`case ${i} (${file.name}, seed ${seed}, options ${JSON.stringify(options)}): ${codeOf(err) ?? ''} ${(err as Error)?.stack ?? String(err)}`)
      }
      await reader.evict(url).catch(() => {})
      source.delete(url)

      // The decoder alone, on a mutated real payload.
      if (payloads.length) {
        f.decodeCases++
        const payload = mutate(payloads[Math.floor(random() * payloads.length)]!, random)
        try {
          decodeExample(payload)
          f.decodeOk++
        } catch (err) {
          if (codeOf(err) === 'ERR_SLUICE_EXAMPLE_DECODE') f.decodeErrors++
          else f.failures.push(`decode case ${i} (seed ${seed}): ${codeOf(err) ?? ''} ${(err as Error)?.stack ?? String(err)}`)
        }
      }
      f.peakRssMiB = Math.max(f.peakRssMiB, Math.round(process.memoryUsage().rss / MiB))
      if (onProgress && i % 500 === 499) onProgress(f)
    }
  } finally {
    await reader.close()
  }
  return f
}
