/**
 * The directory tree a mount shows, built from one recursive listing of its prefix.
 *
 * Object stores have keys, not directories: `train/a/x.tfrecord` implies the directories
 * `train` and `train/a` whether or not marker objects (`train/`) exist. The tree is an
 * immutable snapshot so that a refresh can build the next one off to the side and swap it in,
 * and every FUSE operation sees one consistent listing. Keys a POSIX path cannot carry (empty
 * segments from `a//b`, `.` or `..`, names over 255 bytes) and files shadowed by a directory
 * of the same name are left out and counted, so the mount can say what it hid and why.
 */
import type { ObjectInfo } from '../lib/index.js'

export interface FileNode {
  readonly kind: 'file'
  readonly name: string
  readonly info: ObjectInfo
}

export interface DirNode {
  readonly kind: 'dir'
  readonly name: string
  readonly children: ReadonlyMap<string, TreeNode>
  /** Newest mtime of anything below, so a directory's time moves when its contents do. */
  readonly mtimeMs: number
}

export type TreeNode = FileNode | DirNode

export interface SkippedKey {
  url: string
  reason: 'unrepresentable' | 'shadowed-by-directory' | 'outside-prefix'
}

export interface TreeSnapshot {
  readonly root: DirNode
  readonly objectCount: number
  readonly totalBytes: number
  readonly skipped: readonly SkippedKey[]
  /** When the listing behind this snapshot was taken (ms since the epoch). */
  readonly listedAtMs: number
}

const MAX_NAME_BYTES = 255

interface MutableDir {
  kind: 'dir'
  name: string
  children: Map<string, MutableDir | FileNode>
  mtimeMs: number
}

/**
 * Turns a URL below the mounted prefix into path segments, or undefined when it cannot be
 * shown. `file://` URLs are percent-encoded; S3 keys are used as they are.
 */
export function relativeSegments(prefix: string, url: string): string[] | undefined {
  if (!url.startsWith(prefix)) return undefined
  const segments = url.slice(prefix.length).split('/')
  if (prefix.startsWith('file:')) {
    try {
      for (let i = 0; i < segments.length; i++) segments[i] = decodeURIComponent(segments[i]!)
    } catch {
      return undefined
    }
  }
  return segments
}

function representable(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('\0') &&
    Buffer.byteLength(name) <= MAX_NAME_BYTES
}

/** Builds a snapshot from a listing of `prefix` (which ends with `/`). */
export function buildTree(prefix: string, objects: readonly ObjectInfo[], listedAtMs = Date.now()): TreeSnapshot {
  const root: MutableDir = { kind: 'dir', name: '', children: new Map(), mtimeMs: 0 }
  const skipped: SkippedKey[] = []

  for (const info of objects) {
    const segments = relativeSegments(prefix, info.url)
    if (segments === undefined) {
      skipped.push({ url: info.url, reason: 'outside-prefix' })
      continue
    }
    // A key ending in '/' is a directory marker: it makes the directory exist, nothing more.
    const isMarker = segments[segments.length - 1] === ''
    if (isMarker) segments.pop()
    if (isMarker && segments.length === 0) continue // the prefix's own marker
    if (!segments.every(representable)) {
      skipped.push({ url: info.url, reason: 'unrepresentable' })
      continue
    }
    const dirSegments = isMarker ? segments : segments.slice(0, -1)
    let dir = root
    for (const name of dirSegments) {
      let next = dir.children.get(name)
      if (next === undefined || next.kind === 'file') {
        // A directory always wins over a file of the same name: more keys live below it.
        if (next?.kind === 'file') skipped.push({ url: next.info.url, reason: 'shadowed-by-directory' })
        next = { kind: 'dir', name, children: new Map(), mtimeMs: 0 }
        dir.children.set(name, next)
      }
      dir = next
    }
    if (isMarker) continue
    const name = segments[segments.length - 1]!
    if (dir.children.get(name)?.kind === 'dir') {
      skipped.push({ url: info.url, reason: 'shadowed-by-directory' })
      continue
    }
    dir.children.set(name, { kind: 'file', name, info })
  }

  // Counted on the finished tree: a later key may have shadowed a file counted too early.
  const totals = { objectCount: 0, totalBytes: 0 }
  finishDir(root, listedAtMs, totals)
  return { root: root as DirNode, ...totals, skipped, listedAtMs }
}

/** Sets each directory's mtime to the newest below it and sums the files; returns the mtime. */
function finishDir(dir: MutableDir, fallbackMs: number, totals: { objectCount: number; totalBytes: number }): number {
  let newest = 0
  for (const child of dir.children.values()) {
    let mtime: number
    if (child.kind === 'dir') {
      mtime = finishDir(child, fallbackMs, totals)
    } else {
      totals.objectCount++
      totals.totalBytes += child.info.size
      mtime = child.info.mtimeMs ?? fallbackMs
    }
    if (mtime > newest) newest = mtime
  }
  dir.mtimeMs = newest === 0 ? fallbackMs : newest
  return dir.mtimeMs
}

/** Finds the node at a FUSE path (`/`, `/a/b.tfrecord`). */
export function lookup(snapshot: TreeSnapshot, path: string): TreeNode | undefined {
  let node: TreeNode = snapshot.root
  for (const name of path.split('/')) {
    if (name === '') continue
    if (node.kind !== 'dir') return undefined
    const next: TreeNode | undefined = node.children.get(name)
    if (next === undefined) return undefined
    node = next
  }
  return node
}

/** Returns a snapshot in which the file at `path` carries `info` (a version seen at open). */
export function withFileInfo(snapshot: TreeSnapshot, path: string, info: ObjectInfo): TreeSnapshot {
  const names = path.split('/').filter((n) => n !== '')
  const replace = (dir: DirNode, depth: number): DirNode => {
    const name = names[depth]!
    const child = dir.children.get(name)
    if (child === undefined) return dir
    const children = new Map(dir.children)
    if (depth === names.length - 1) {
      if (child.kind !== 'file') return dir
      children.set(name, { kind: 'file', name, info })
    } else {
      if (child.kind !== 'dir') return dir
      children.set(name, replace(child, depth + 1))
    }
    return { ...dir, children }
  }
  if (names.length === 0) return snapshot
  const old = lookup(snapshot, path)
  const sizeDelta = old?.kind === 'file' ? info.size - old.info.size : 0
  return { ...snapshot, root: replace(snapshot.root, 0), totalBytes: snapshot.totalBytes + sizeDelta }
}
