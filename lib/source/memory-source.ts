/**
 * Objects held in memory, for tests of the layers above the source and for users' own tests.
 * Exported from `sluice/testing`.
 *
 * It behaves like a well-behaved store: versions change on every put, reads are pinned and
 * fail with ObjectChangedError after an overwrite, and it counts calls per method so tests
 * can assert how many requests a scenario cost.
 */
import { NotFoundError, ObjectChangedError } from '../errors.js'
import type { ObjectInfo } from '../types.js'
import { clampRange, type Source } from './source.js'

export class MemorySource implements Source {
  readonly schemes: readonly string[]
  readonly calls = { stat: 0, readRange: 0, list: 0 }
  /** Bytes returned by readRange. */
  bytesRead = 0
  private readonly objects = new Map<string, { bytes: Uint8Array; version: string; mtimeMs: number }>()
  private nextVersion = 1

  constructor(scheme = 'mem') {
    this.schemes = [scheme]
  }

  /**
   * Stores `bytes` under `url` as a new version. `mtimeMs` (default now) lets a test rewrite
   * an object without moving its modification time, so only the version says it changed.
   */
  put(url: string, bytes: Uint8Array, options: { mtimeMs?: number } = {}): ObjectInfo {
    const entry = { bytes, version: `v${this.nextVersion++}`, mtimeMs: options.mtimeMs ?? Date.now() }
    this.objects.set(url, entry)
    return { url, size: bytes.length, version: entry.version, mtimeMs: entry.mtimeMs }
  }

  delete(url: string): void {
    this.objects.delete(url)
  }

  async stat(url: string): Promise<ObjectInfo> {
    this.calls.stat++
    const o = this.objects.get(url)
    if (!o) throw new NotFoundError(url)
    return { url, size: o.bytes.length, version: o.version, mtimeMs: o.mtimeMs }
  }

  async readRange(info: ObjectInfo, start: number, end: number): Promise<Uint8Array> {
    this.calls.readRange++
    end = clampRange(info, start, end)
    const o = this.objects.get(info.url)
    if (!o) throw new NotFoundError(info.url)
    if (o.version !== info.version) throw new ObjectChangedError(info.url, info.version, o.version)
    this.bytesRead += end - start
    return new Uint8Array(o.bytes.subarray(start, end)) // a copy, as a store would give
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.calls.list++
    return [...this.objects.entries()]
      .filter(([url]) => url.startsWith(prefix))
      .map(([url, o]) => ({ url, size: o.bytes.length, version: o.version, mtimeMs: o.mtimeMs }))
      .sort((a, b) => (a.url < b.url ? -1 : 1))
  }
}
