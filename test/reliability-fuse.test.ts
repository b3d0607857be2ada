/**
 * The mount against hostile keys and under load, over a real BlockReader whose store is a
 * MemorySource (slowed down, so reads are genuinely in flight when the test wants them to be).
 *
 * - Keys with `..`, `.`, `//`, trailing slashes, 300-byte names, newlines, control bytes,
 *   backslashes and percent signs: everything the mount shows resolves inside the mount root,
 *   each hidden key is logged once with its reason (quoted, so a newline cannot forge a log
 *   line), and keys that differ only in such bytes keep distinct contents (distinct cache keys).
 * - 16 parallel readers plus a listing loop, then unmount while reads are in flight: unmount
 *   returns, every reader ends (with data or an error), and no mount, live or stale, remains.
 */
import { createHash } from 'node:crypto'
import { realpath } from 'node:fs/promises'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { findMount, isStaleMount, mount } from '../fuse/index.js'
import { BlockReader, KiB, MemorySource, MiB, type ObjectInfo, type RangeReadOptions, type Source } from '../lib/index.js'
import { cleanupMountpoint, dropPageCache, forEachBackend, patternBytes, run, spawnLong, tempMountpoint, type Spawned } from './support/fuse-env.js'
import { waitFor } from './support/wait.js'


/** A MemorySource that answers each range after `delayMs`, so reads stay in flight (counted). */
class SlowSource implements Source {
  readonly schemes = ['mem']
  /** Ranges asked for and not yet answered. */
  inFlight = 0
  constructor(readonly inner: MemorySource, public delayMs: number) {}
  stat(url: string) { return this.inner.stat(url) }
  list(prefix: string) { return this.inner.list(prefix) }
  async readRange(info: ObjectInfo, start: number, end: number, _o?: RangeReadOptions) {
    this.inFlight++
    try {
      await new Promise((r) => setTimeout(r, this.delayMs))
      return this.inner.readRange(info, start, end)
    } finally {
      this.inFlight--
    }
  }
}

await forEachBackend('reliability-fuse', ({ backend, it }) => {
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

  it('hostile keys: shown inside the root or hidden with a logged reason; distinct keys keep distinct bytes', async () => {
    const mem = new MemorySource('mem')
    const P = 'mem://bucket/ds/'
    const shown: Record<string, string> = {
      'plain.bin': 'plain.bin',
      'dir/trailing/': 'dir/trailing', // a directory marker
      'sp ace.bin': 'sp ace.bin',
      'pct%2e%2e.bin': 'pct%2e%2e.bin',
      'back\\slash..bin': 'back\\slash..bin',
      'new\nline.bin': 'new\nline.bin',
      'ctl\u0001\u007f.bin': 'ctl\u0001\u007f.bin',
      'ünï©ødé-名前.bin': 'ünï©ødé-名前.bin',
      '...': '...',
      '.hidden': '.hidden',
      [`${'n'.repeat(255)}`]: 'n'.repeat(255),
    }
    const hidden = ['../escape.bin', '../../etc/passwd', 'a/../../up.bin', './dot.bin', 'a//b.bin', '/lead.bin', `${'l'.repeat(256)}`, 'x/./y.bin', 'nul\0.bin', 'sub/..']
    const contents = new Map<string, Uint8Array>()
    let seed = 1
    for (const key of [...Object.keys(shown), ...hidden]) {
      const bytes = key.endsWith('/') ? new Uint8Array(0) : patternBytes(3000 + seed * 17, seed)
      seed++
      mem.put(P + key, bytes)
      contents.set(key, bytes)
    }
    const logs: string[] = []
    const reader = new BlockReader({ sources: [mem], memory: { maxBytes: 8 * MiB }, blockSize: 4 * KiB })
    const mnt = await tempMountpoint('rel-keys')
    const m = await mount(reader, P, mnt, { backend, log: (l) => logs.push(l) })
    try {
      // Every entry the mount lists resolves inside it.
      const found = await run('find', [mnt, '-mindepth', '1', '-print0'])
      assert.is(found.code, 0, found.stderr)
      const entries = found.stdout.split('\0').filter((e) => e !== '')
      for (const e of entries) {
        const real = await realpath(e)
        assert.ok(real.startsWith(mnt + '/'), `${JSON.stringify(e)} resolves to ${real}, outside the mount`)
      }
      const rel = new Set(entries.map((e) => e.slice(mnt.length + 1)))
      for (const path of Object.values(shown)) assert.ok(rel.has(path), `${JSON.stringify(path)} is shown: ${[...rel].map((r) => JSON.stringify(r)).join(', ')}`)
      // Shown files hold exactly their own key's bytes (keys differing in odd bytes never share blocks).
      const files = Object.entries(shown).filter(([k]) => !k.endsWith('/'))
      const sums = await Promise.all(files.map(([, p]) => run('sha256sum', ['-z', join(mnt, p)])))
      sums.forEach((r, i) => assert.is(r.stdout.split(' ')[0], sha(contents.get(files[i]![0])!), `${JSON.stringify(files[i]![0])}: ${r.stderr}`))
      // Hidden keys: none visible, each logged once with a reason, quoted.
      for (const key of hidden) {
        const quoted = JSON.stringify(P + key)
        const lines = logs.filter((l) => l.includes(quoted))
        assert.is(lines.length, 1, `${quoted} logged once: ${logs.join(' | ')}`)
        assert.match(lines[0]!, /hiding .*: (not a safe POSIX path|outside-prefix|shadowed)/)
      }
      assert.ok(logs.every((l) => !l.includes('\n')), 'no log line carries a raw newline')
      assert.is(m.skipped.length, hidden.length, JSON.stringify(m.skipped))
    } finally {
      await m.unmount().catch((err) => console.error('unmount failed:', err))
      await cleanupMountpoint(mnt)
      await reader.close()
    }
  })

  it('16 parallel readers plus listing, then unmount with reads in flight: no hang, no stale mount', async () => {
    const mem = new MemorySource('mem')
    const slow = new SlowSource(mem, 5)
    const objects: Uint8Array[] = []
    for (let i = 0; i < 16; i++) {
      objects.push(patternBytes(3 * MiB + i * 4099, 500 + i))
      mem.put(`mem://load/ds/f-${i}.bin`, objects[i]!)
    }
    const reader = new BlockReader({ sources: [slow], memory: { maxBytes: 16 * MiB }, blockSize: 256 * KiB, prefetch: { maxReadAheadBytes: 1 * MiB } })
    const mnt = await tempMountpoint('rel-load')
    const m = await mount(reader, 'mem://load/ds', mnt, { backend, metadataTtlMs: 100, log: () => {} })
    const spawned: Spawned[] = []
    try {
      // Phase 1: every reader completes one verified pass while a listing loop runs.
      const lister = spawnLong('sh', ['-c', `while true; do ls -laR ${mnt} > /dev/null 2>&1; done`])
      spawned.push(lister)
      const pass = await Promise.all(objects.map((_, i) => run('sha256sum', [join(mnt, `f-${i}.bin`)], { timeoutMs: 90_000 })))
      pass.forEach((r, i) => assert.is(r.stdout.split(' ')[0], sha(objects[i]!), `reader ${i}: ${r.stderr}`))

      // Phase 2: cold, slow reads again, and unmount while they are in flight. Both caches are
      // emptied: sluice's, and the kernel's pages, which would otherwise answer every read.
      for (let i = 0; i < 16; i++) await reader.evict(`mem://load/ds/f-${i}.bin`)
      await dropPageCache(objects.map((_, i) => join(mnt, `f-${i}.bin`)))
      slow.delayMs = 40
      const readers = objects.map((_, i) => spawnLong('sh', ['-c', `while true; do cat ${join(mnt, `f-${i}.bin`)} > /dev/null || exit 3; done`]))
      spawned.push(...readers)
      await waitFor('several cold reads in flight at the store', () => slow.inFlight >= 4, { timeoutMs: 30_000 })
      const inflight = reader.stats().source
      // Read synchronously with the unmount call: this many reads are in flight when it starts.
      const inFlightAtUnmount = slow.inFlight
      assert.ok(inFlightAtUnmount > 0, 'reads in flight when the unmount starts')
      const unmounted = await Promise.race([
        m.unmount().then(() => 'unmounted', (err: Error) => `unmount failed: ${err.message}`),
        new Promise<string>((r) => setTimeout(() => r('HANG'), 60_000).unref()),
      ])
      assert.is(unmounted, 'unmounted', `requests so far ${JSON.stringify(inflight)}`)
      const ends = await Promise.race([
        Promise.all(readers.map((p) => p.exited)),
        new Promise<'HANG'>((r) => setTimeout(() => r('HANG'), 30_000).unref()),
      ])
      assert.ok(ends !== 'HANG', 'every reader ended after the unmount')
      console.log(`[reliability-fuse] unmounted with ${inFlightAtUnmount} reads in flight and ${inflight.gets} GETs issued during the in-flight phase; readers ended with ${JSON.stringify(ends.map((e) => e.code ?? e.signal))}`)
      lister.kill('SIGKILL')
      await lister.exited
      assert.is(await findMount(mnt), undefined, 'no mount left')
      assert.is(await isStaleMount(mnt), false, 'no stale mount left')
    } finally {
      // After a failed assertion the loops still run; left alive they keep this process open.
      for (const p of spawned) p.kill('SIGKILL')
      await m.unmount().catch(() => {})
      await Promise.all(spawned.map((p) => p.exited))
      await cleanupMountpoint(mnt)
      await reader.close()
    }
  })
})
