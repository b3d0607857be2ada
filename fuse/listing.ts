/**
 * The mount's metadata: one listing of the prefix, reused for `--metadata-ttl`.
 *
 * Every getattr, lookup and readdir is answered from memory; only when the snapshot is older
 * than the TTL does the next operation trigger one re-listing (concurrent callers share it).
 * A failed refresh keeps serving the last good listing and says so once, because a training
 * job is better served by yesterday's directory than by EIO on every stat. An `open` that
 * finds a newer version than the listing records it here, so the attributes the kernel sees
 * right after that open describe the bytes the handle is pinned to.
 */
import type { ObjectInfo } from '../lib/index.js'
import type { MountReader } from './reader.js'
import { buildTree, withFileInfo, type TreeSnapshot } from './tree.js'

export class ListingCache {
  readonly prefix: string
  private readonly reader: MountReader
  private readonly ttlMs: number
  private readonly log: (line: string) => void
  private current: TreeSnapshot | undefined
  private refreshing: Promise<TreeSnapshot> | undefined
  private lastRefreshFailed = false
  /** Hidden keys already logged, so a refresh does not repeat them (bounded). */
  private readonly reportedSkips = new Set<string>()

  constructor(reader: MountReader, prefix: string, ttlMs: number, log: (line: string) => void) {
    this.reader = reader
    this.prefix = prefix
    this.ttlMs = ttlMs
    this.log = log
  }

  /** Lists the prefix now; rejects when the listing fails (used before mounting). */
  async load(): Promise<TreeSnapshot> {
    const listedAtMs = Date.now()
    const objects = await this.reader.list(this.prefix)
    this.current = buildTree(this.prefix, objects, listedAtMs)
    this.reportSkipped(this.current)
    return this.current
  }

  /**
   * Logs each key the tree hides, with the reason, once. The key is JSON-quoted: keys may hold
   * newlines or control bytes, which must not forge or break log lines.
   */
  private reportSkipped(snapshot: TreeSnapshot): void {
    let fresh = 0
    for (const { url, reason } of snapshot.skipped) {
      if (this.reportedSkips.has(url)) continue
      if (this.reportedSkips.size >= 10_000) break
      this.reportedSkips.add(url)
      if (++fresh <= 50) this.log(`hiding ${JSON.stringify(url)}: ${reason === 'unrepresentable' ? 'not a safe POSIX path (empty, ".", ".." or NUL segment, or a name over 255 bytes)' : reason}`)
    }
    if (fresh > 50) this.log(`hiding ${fresh - 50} more keys under ${this.prefix} (see mount.skipped)`)
  }

  /** The snapshot to answer from, re-listed first when older than the TTL. */
  async snapshot(): Promise<TreeSnapshot> {
    const current = this.current
    if (current !== undefined && Date.now() - current.listedAtMs < this.ttlMs) return current
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined
    })
    return this.refreshing
  }

  /** The last snapshot, without refreshing (undefined before `load`). */
  peek(): TreeSnapshot | undefined {
    return this.current
  }

  /** Records the version an open found, so getattr reports it from now on. */
  noteOpened(path: string, info: ObjectInfo): void {
    if (this.current !== undefined) this.current = withFileInfo(this.current, path, info)
  }

  private async refresh(): Promise<TreeSnapshot> {
    try {
      const next = await this.load()
      if (this.lastRefreshFailed) this.log(`listing ${this.prefix} works again`)
      this.lastRefreshFailed = false
      return next
    } catch (err) {
      if (this.current === undefined) throw err
      if (!this.lastRefreshFailed) {
        this.log(`listing ${this.prefix} failed, serving the previous listing: ${(err as Error).message}`)
      }
      this.lastRefreshFailed = true
      // Try again after another TTL rather than on every operation.
      this.current = { ...this.current, listedAtMs: Date.now() }
      return this.current
    }
  }
}
