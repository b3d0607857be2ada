/**
 * What a sequential run tells the reader about the shards after the one it is reading:
 * which to open early, and which of their bytes to prefetch, when.
 *
 * Opening: while item k is read, items k+1..k+`readAhead.shards` are opened, so a shard
 * boundary costs no metadata round trip. Each item is opened once; the run takes the handle
 * opened ahead when it gets there.
 *
 * Prefetch: `readAhead.bytes` of read-ahead is kept running across the end of the current
 * shard. As the reader closes in on that end, the next shards' first bytes are hinted a piece
 * at a time (about one coalesced request, or a quarter of `readAhead.bytes`), so their
 * fetches are staggered like the ones inside a shard. Hinting them all when a shard begins
 * (as this once did) put a burst of requests on the link that shared its bandwidth and landed
 * together, long after the first was needed: the consumer stalled at every shard boundary
 * (benchmark: 0.5-1 s per boundary). A hint the reader's prefetch budget cut short is
 * offered again with the next piece.
 */
import { ClosedError } from '../../lib/index.js'
import type { ObjectHandle, ObjectReader } from '../../lib/index.js'
import type { PlanItem } from './plan.js'

/** Hints go out in pieces of about one coalesced request (sluice's default), or a quarter of readAhead.bytes. */
const HINT_PIECE_BYTES = 8 * 1024 * 1024

const SETTLED: Promise<void> = Promise.resolve()

/** What the hinter needs of a plan item. */
export type HintedItem = Pick<PlanItem, 'shard' | 'bytes'>

export interface HintSettings {
  /** Items opened and hinted ahead of the one being read. */
  shards: number
  /** Bytes of read-ahead kept running across the end of the current item. */
  bytes: number
}

export class ShardHinter {
  private readonly opened = new Map<number, Promise<ObjectHandle>>()
  /** Bytes of each upcoming item (by plan position) already hinted to the reader. */
  private readonly hinted = new Map<number, number>()
  private closed = false

  constructor(
    private readonly reader: ObjectReader,
    private readonly items: readonly HintedItem[],
    private readonly ahead: HintSettings,
    private readonly signal: AbortSignal | undefined,
    /** Called once per handle opened. */
    private readonly onOpen: () => void,
  ) {}

  /** The handle of item k: the one opened ahead, or opened now. */
  open(k: number): Promise<ObjectHandle> {
    let p = this.opened.get(k)
    if (!p) {
      const item = this.items[k]!
      p = (async () => {
        // Open at the listed version, without another metadata request per shard and epoch;
        // if the shard changed since, its reads fail with ERR_SLUICE_OBJECT_CHANGED.
        const handle = await this.reader.open(item.shard, { signal: this.signal })
        this.onOpen()
        if (this.closed) {
          await handle.close()
          throw new ClosedError('TFRecord iteration')
        }
        return handle
      })()
      p.catch(() => undefined)
      this.opened.set(k, p)
    }
    return p
  }

  /** Opens the items after k, up to `shards` of them. */
  openAhead(k: number): void {
    const n = Math.min(this.ahead.shards, this.items.length - k - 1)
    for (let j = k + 1; j <= k + n; j++) if (!this.opened.has(j)) void this.open(j).catch(() => undefined)
  }

  /**
   * Item k has `remaining` bytes left to read: hints the items after it up to `bytes` of
   * read-ahead in total. Resolves once the hints of this call have reached their handles
   * (callers need not wait; tests do).
   */
  hintAhead(k: number, remaining: number): Promise<void> {
    let want = this.ahead.bytes - remaining
    const piece = Math.min(HINT_PIECE_BYTES, Math.ceil(this.ahead.bytes / 4))
    let issued: Promise<void>[] | undefined
    for (let j = k + 1; j <= k + this.ahead.shards && j < this.items.length && want > 0; j++) {
      const item = this.items[j]!
      const start = item.bytes?.start ?? 0
      const length = (item.bytes?.end ?? item.shard.size) - start
      const target = Math.min(want, length)
      const done = this.hinted.get(j) ?? 0
      want -= length
      // In pieces, except the item's tail.
      if (target - done < piece && target < length) continue
      if (target <= done) continue
      this.hinted.set(j, target)
      const opened = this.opened.get(j) ?? this.open(j)
      ;(issued ??= []).push(
        opened.then(
          (handle) => {
            if (this.closed) return
            const reached = handle.prefetch(start + done, target - done) - start
            // Cut short by the reader's prefetch budget: offer the rest again with the next piece.
            if (reached < target && this.hinted.get(j) === target) this.hinted.set(j, Math.max(done, reached))
          },
          () => undefined,
        ),
      )
    }
    return issued === undefined ? SETTLED : Promise.all(issued).then(() => undefined)
  }

  /** Item k is finished: forget its handle (the run closes it) and its hints. */
  release(k: number): void {
    this.opened.delete(k)
    this.hinted.delete(k)
  }

  /** Stops hinting and closes every handle opened ahead (also those still opening). */
  async close(): Promise<void> {
    this.closed = true
    const closing: Promise<unknown>[] = []
    for (const p of this.opened.values()) closing.push(p.then((handle) => handle.close()).catch(() => undefined))
    this.opened.clear()
    await Promise.all(closing)
  }
}
