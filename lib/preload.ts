/**
 * BlockReader.preload: expand URLs and prefixes to objects, fetch whatever is not yet in the
 * disk tier (awaiting each write, never dropping it for the write-behind budget), then read
 * every block back through the verifying path to report what is resident. The result is
 * measured, not assumed: a block the admission policy refused, a write that failed, or a
 * fetch that failed shows up as missing bytes with a reason.
 */
import { blockKey } from './cache/block-key.js'
import { AbortError, NotFoundError, isSluiceError, redactText } from './errors.js'
import type { TieredBlockCache } from './cache/tiered-block-cache.js'
import type { RunFill } from './fetch/block-fetcher.js'
import { missingRuns } from './fetch/run-planner.js'
import type { PinnedObject } from './object-handle.js'
import type { ObjectInfo, PreloadOptions, PreloadResult, PreloadedObject, ReadOptions } from './types.js'

/** What preload needs of the reader (BlockReader), and no more. */
export interface PreloadHost {
  readonly blockSize: number
  readonly maxRunBlocks: number
  readonly cache: TieredBlockCache
  stat(url: string, options?: ReadOptions): Promise<ObjectInfo>
  list(prefix: string, options?: ReadOptions): Promise<ObjectInfo[]>
  pin(info: ObjectInfo): PinnedObject
  startRun(obj: PinnedObject, first: number, count: number, priority: 'demand', budgetBytes: number, fill: RunFill): Promise<boolean[]>
}

type Failure = PreloadResult['failed'][number]

function failureOf(url: string, err: unknown): Failure {
  const code = (err as { code?: unknown })?.code
  return {
    url,
    code: isSluiceError(err) ? err.code : typeof code === 'string' ? code : 'ERR_UNKNOWN',
    message: (err as Error)?.message ?? String(err),
  }
}

/** Objects named by the targets: an exact object, or everything under a prefix. */
async function expand(reader: PreloadHost, targets: string[], failed: Failure[], signal?: AbortSignal): Promise<ObjectInfo[]> {
  const seen = new Map<string, ObjectInfo>()
  for (const target of targets) {
    try {
      let infos: ObjectInfo[]
      if (target.endsWith('/')) {
        infos = await reader.list(target, signal ? { signal } : {})
      } else {
        try {
          infos = [await reader.stat(target, signal ? { signal } : {})]
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err
          infos = await reader.list(target.endsWith('/') ? target : target + '/', signal ? { signal } : {})
          if (infos.length === 0) throw err
        }
      }
      if (infos.length === 0) failed.push({ url: target, code: 'ERR_SLUICE_NOT_FOUND', message: `nothing under ${target}` })
      for (const info of infos) seen.set(info.url, info)
    } catch (err) {
      if (signal?.aborted) throw new AbortError(target, signal.reason)
      failed.push(failureOf(target, err))
    }
  }
  return [...seen.values()]
}

/** Bytes of the object resident in the residence tier (each block verified where the tier is local). */
async function residentBytes(reader: PreloadHost, obj: PinnedObject): Promise<number> {
  const keys = Array.from({ length: obj.blockCount }, (_, i) => blockKey(obj.id, i))
  const resident = await reader.cache.residentMany(keys, { verify: true })
  let bytes = 0
  resident.forEach((here, i) => {
    if (here) bytes += Math.min(reader.blockSize, obj.info.size - i * reader.blockSize)
  })
  return bytes
}

export async function preload(reader: PreloadHost, targets: string[], options: PreloadOptions = {}): Promise<PreloadResult> {
  const concurrency = options.concurrency ?? 4
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`preload: concurrency must be a positive integer, got ${concurrency}`)
  const failed: Failure[] = []
  const infos = await expand(reader, targets, failed, options.signal)
  const capacityBytes = reader.cache.residenceUsage().maxBytes
  const requestedBytes = infos.reduce((n, i) => n + i.size, 0)
  const objects: PreloadedObject[] = []
  let fetchedBytes = 0
  let bytesDone = 0
  let objectsDone = 0
  const bs = reader.blockSize

  const one = async (info: ObjectInfo): Promise<void> => {
    const obj = reader.pin(info)
    if (!options.dryRun && capacityBytes > 0) {
      try {
        const keys = Array.from({ length: obj.blockCount }, (_, i) => blockKey(obj.id, i))
        const present = await reader.cache.residentMany(keys, { verify: false })
        const runs = missingRuns(0, obj.blockCount - 1, reader.maxRunBlocks, (i) => {
          if (!present[i]) return true
          bytesDone += Math.min(bs, info.size - i * bs)
          return false
        })
        for (const [first, count] of runs) {
          options.signal?.throwIfAborted()
          await reader.startRun(obj, first, count, 'demand', 0, {
            durable: true,
            memory: !reader.cache.persistent && reader.cache.shared === undefined,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          })
          const bytes = Math.min(info.size, (first + count) * bs) - first * bs
          fetchedBytes += bytes
          bytesDone += bytes
          options.onProgress?.({ url: info.url, objectsDone, objectsTotal: infos.length, bytesDone, bytesTotal: requestedBytes })
        }
      } catch (err) {
        // An abort ends the whole preload; it is not one object's failure.
        if (options.signal?.aborted) throw new AbortError(info.url, options.signal.reason)
        failed.push(failureOf(info.url, err))
      }
    }
    const resident = capacityBytes > 0 ? await residentBytes(reader, obj) : 0
    if (options.dryRun) fetchedBytes += info.size - resident
    objects.push({ url: info.url, size: info.size, version: info.version, residentBytes: resident, missingBytes: info.size - resident })
    objectsDone++
    options.onProgress?.({ url: info.url, objectsDone, objectsTotal: infos.length, bytesDone, bytesTotal: requestedBytes })
  }

  const queue = [...infos]
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let info = queue.shift(); info; info = queue.shift()) await one(info)
    }),
  )
  objects.sort((a, b) => (a.url < b.url ? -1 : 1))
  const resident = objects.reduce((n, o) => n + o.residentBytes, 0)
  for (const o of objects) {
    if (o.missingBytes > 0 && !options.dryRun && !failed.some((f) => f.url === o.url)) {
      failed.push({
        url: o.url,
        code: 'ERR_SLUICE_CACHE',
        message: `${o.missingBytes} of ${o.size} bytes not resident: the tier is full (capacity ${capacityBytes} bytes) or refused the blocks`,
      })
    }
  }
  if (options.dryRun) {
    const used = reader.cache.residenceUsage().usedBytes
    const needed = requestedBytes - resident
    if (used + needed > capacityBytes) {
      failed.push({
        url: targets.join(' '),
        code: 'ERR_SLUICE_CACHE',
        message: `does not fit: ${needed} bytes to fetch, ${capacityBytes - used} of ${capacityBytes} bytes free`,
      })
    }
  }
  return {
    objects,
    // What failed is printed and logged: the targets as given may be presigned URLs.
    failed: failed.map((f) => ({ ...f, url: redactText(f.url), message: redactText(f.message) })),
    requestedBytes,
    residentBytes: resident,
    fetchedBytes,
    capacityBytes,
    complete: failed.length === 0 && resident === requestedBytes,
    dryRun: options.dryRun === true,
  }
}
