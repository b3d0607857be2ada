/**
 * What a sequential run tells the reader ahead of time, so a shard boundary never stalls the
 * consumer: the next `readAhead.shards` shards are opened early (no metadata round trip at
 * the boundary), and as the reader closes in on the end of a shard, the next shards' first
 * bytes are offered to the reader's prefetch a piece at a time (`hintAhead`).
 *
 * Hinting them all when a shard begins (as this once did) puts a burst of requests on the link
 * that share its bandwidth and land together, long after the first was needed: the consumer
 * stalled at every shard boundary (benchmark: 0.5-1 s per boundary). Staggered pieces keep
 * `readAhead.bytes` of read-ahead running across the boundary like the ones inside a shard.
 */
import { ClosedError, type ObjectHandle, type ObjectReader } from '../../lib/index.js'
import type { ResolvedOptions } from './options.js'
import type { SequentialPlan } from './plan.js'

/** Cross-shard hints go out in pieces of about one coalesced request (sluice's default), or a quarter of readAhead.bytes. */
const HINT_PIECE_BYTES = 8 * 1024 * 1024

export class ShardHinter {
  private readonly opened = new Map<number, Promise<ObjectHandle>>()
  /** Bytes of each upcoming shard (by plan position) already hinted to the cache. */
  private readonly hinted = new Map<number, number>()

  constructor(
    private readonly reader: ObjectReader,
    private readonly plan: SequentialPlan,
    private readonly options: ResolvedOptions,
    private readonly onOpen: () => void,
    private readonly stopped: () => boolean,
  ) {}

  /** The handle of plan item `k`, opened now or earlier by `openAhead`. */
  open(k: number): Promise<ObjectHandle> {
    let p = this.opened.get(k)
    if (!p) {
      const item = this.plan.items[k]!
      p = (async () => {
        // Open at the listed version, without another metadata request per shard and epoch;
        // if the shard changed since, its reads fail with ERR_SLUICE_OBJECT_CHANGED.
        const handle = await this.reader.open(item.shard, { signal: this.options.signal })
        this.onOpen()
        if (this.stopped()) {
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

  /** Opens the next `readAhead.shards` shards after item `k`. */
  openAhead(k: number): void {
    const n = Math.min(this.options.readAhead.shards, this.plan.items.length - k - 1)
    for (let j = k + 1; j <= k + n; j++) if (!this.opened.has(j)) void this.open(j).catch(() => undefined)
  }

  /** Item `k` is finished: its handle is the reader's to close, and its hints are spent. */
  finished(k: number): void {
    this.opened.delete(k)
    this.hinted.delete(k)
  }

  /**
   * Keeps `readAhead.bytes` of read-ahead running across the end of item `k`, which has
   * `remaining` bytes left to read.
   */
  hintAhead(k: number, remaining: number): void {
    const ra = this.options.readAhead
    let want = ra.bytes - remaining
    for (let j = k + 1; j <= k + ra.shards && j < this.plan.items.length && want > 0; j++) {
      const item = this.plan.items[j]!
      const start = item.bytes?.start ?? 0
      const length = (item.bytes?.end ?? item.shard.size) - start
      const target = Math.min(want, length)
      const done = this.hinted.get(j) ?? 0
      want -= length
      // In pieces, except the shard's tail.
      if (target - done < Math.min(HINT_PIECE_BYTES, Math.ceil(ra.bytes / 4)) && target < length) continue
      if (target <= done) continue
      this.hinted.set(j, target)
      void this.open(j).then(
        (handle) => {
          if (this.stopped()) return
          const reached = handle.prefetch(start + done, target - done) - start
          // Cut short by the reader's prefetch budget: offer the rest again with the next piece.
          if (reached < target && this.hinted.get(j) === target) this.hinted.set(j, Math.max(done, reached))
        },
        () => undefined,
      )
    }
  }

  /** Closes every handle opened ahead (the run stopped). */
  async closeAll(): Promise<void> {
    const closing = [...this.opened.values()].map((p) => p.then((handle) => handle.close()).catch(() => undefined))
    this.opened.clear()
    await Promise.all(closing)
  }
}
