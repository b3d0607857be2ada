/**
 * Which object versions (object ids) this reader has pinned, per URL, so that evict() can
 * reach every version's blocks, including those only the memory tier holds (the disk tier
 * has its own records; the memory tier keeps none).
 *
 * Bounded: past the cap, the least recently pinned URLs that no open handle reads and that
 * have no block in a tier that counts blocks per object are forgotten, down to half the cap.
 * Nothing is lost: their disk blocks are found through the disk tier's own records, and a
 * new open pins them again. The map stays under max(cap, twice the URLs that must stay).
 */

/** URLs remembered with their object ids before idle ones are forgotten. */
const MAX_TRACKED_URLS = 8192

export class PinnedUrls {
  /** Object ids (latin1 key strings) per URL, least recently pinned first. */
  private readonly idsByUrl = new Map<string, Set<string>>()
  private forgetAt = MAX_TRACKED_URLS

  constructor(
    /** URLs an open handle reads now: never forgotten. */
    private readonly reading: () => Iterable<string>,
    /** Whether a tier still holds a block of this object id that only this record can reach. */
    private readonly holdsObject: (id: string) => boolean,
  ) {}

  pin(url: string, id: string): void {
    let ids = this.idsByUrl.get(url)
    if (ids) this.idsByUrl.delete(url) // re-inserted below: most recently pinned last
    this.idsByUrl.set(url, (ids ??= new Set()))
    if (this.idsByUrl.size > this.forgetAt) this.forgetIdle()
    ids.add(id)
  }

  /** URLs remembered now. */
  get size(): number {
    return this.idsByUrl.size
  }

  /** The object ids pinned for a URL. */
  idsOf(url: string): ReadonlySet<string> {
    return this.idsByUrl.get(url) ?? new Set()
  }

  clear(): void {
    this.idsByUrl.clear()
  }

  private forgetIdle(): void {
    const reading = new Set(this.reading())
    for (const [url, ids] of this.idsByUrl) {
      if (this.idsByUrl.size <= MAX_TRACKED_URLS / 2) break
      if (reading.has(url)) continue
      let resident = false
      for (const id of ids) if (this.holdsObject(id)) resident = true
      if (!resident) this.idsByUrl.delete(url)
    }
    // When most URLs must stay, the next pass waits until the map has doubled, so passes
    // cost O(1) per pin however many URLs the memory tier holds.
    this.forgetAt = Math.max(MAX_TRACKED_URLS, 2 * this.idsByUrl.size)
  }
}
