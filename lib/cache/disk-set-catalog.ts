/**
 * The object catalogue of a disk tier spread over several directories: one ObjectCatalog
 * over the catalogues each directory keeps of its own blocks (lmdb-object-catalog.ts).
 *
 * Each directory records an object with the first of its blocks it stores and forgets it
 * with its last, so an object whose blocks are spread is recorded in every directory that
 * holds some: ids are merged, and eviction by URL (`objectsForUrl`, then a prefix deletion
 * in every directory) reaches every block of every version wherever it landed.
 *
 * Directories may disagree on a URL's last known version: a one-block object rewritten may
 * have its old block in one directory and its new block in another. The newer by the store's
 * modification time wins, so reading through an outage answers with the newest version any
 * directory holds. Where the store gave no time (or the same one), nothing says which was
 * cached last: the first directory in the list that knows the URL answers.
 *
 * A directory that is failing or never opened is skipped (`catalogs` gives only the usable
 * ones, and a lookup that throws counts against that directory only).
 */
import { keyString } from './block-key.js'
import type { ObjectCatalog } from './block-store.js'
import type { ObjectInfo } from '../types.js'

/** The directories' catalogues as the disk set gives them. */
export interface CatalogSource {
  /** `call` on each usable directory's catalogue; `fallback` for one that fails. */
  each<T>(fallback: T, call: (catalog: ObjectCatalog) => T): T[]
  /** The same on every directory that opened, bypassed ones too: what must reach every block. */
  eachOpened<T>(fallback: T, call: (catalog: ObjectCatalog) => T): T[]
  /** Object records summed over the directories (still known after they close). */
  objectCount(): number
}

export class DiskSetCatalog implements ObjectCatalog {
  constructor(private readonly dirs: CatalogSource) {}

  lastKnownVersion(url: string): ObjectInfo | undefined {
    let best: ObjectInfo | undefined
    for (const info of this.dirs.each(undefined, (c) => c.lastKnownVersion(url))) {
      if (info !== undefined && (best === undefined || newer(info, best))) best = info
    }
    return best
  }

  lastKnownUnder(prefix: string): ObjectInfo[] {
    const byUrl = new Map<string, ObjectInfo>()
    for (const list of this.dirs.each([] as ObjectInfo[], (c) => c.lastKnownUnder(prefix))) {
      for (const info of list) {
        const best = byUrl.get(info.url)
        if (best === undefined || newer(info, best)) byUrl.set(info.url, info)
      }
    }
    return [...byUrl.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
  }

  objectsForUrl(url: string): Uint8Array[] {
    const ids = new Map<string, Uint8Array>()
    // Every opened directory: an eviction must find a version held only where fills are bypassed now.
    for (const list of this.dirs.eachOpened([] as Uint8Array[], (c) => c.objectsForUrl(url))) {
      for (const id of list) ids.set(keyString(id), id)
    }
    return [...ids.values()]
  }

  /**
   * Object records summed over the directories: an object with blocks in two counts twice.
   * Telling them apart would read every record of every directory on each stats call.
   */
  objectCount(): number {
    return this.dirs.objectCount()
  }
}

function newer(a: ObjectInfo, b: ObjectInfo): boolean {
  return a.mtimeMs !== undefined && b.mtimeMs !== undefined && a.mtimeMs > b.mtimeMs
}
