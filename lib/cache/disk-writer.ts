/**
 * The reader thread's side of the disk writer thread (disk-writer-thread.ts): hands it blocks
 * to store and settles each fill's promise with its outcome.
 *
 * A block is copied once, into one of a few transfer buffers that travel to the writer thread
 * and back and are reused, so handing over a block neither clones it nor allocates: the
 * block itself stays where it is, in the memory tier and in readers' hands. At most `slots`
 * blocks (8: 32 MiB of buffers at the default block size) are with the writer thread at a
 * time, enough for it to commit several per sync while it keeps up with a cold read; later
 * fills wait here in order (the tiered cache's write-behind budget bounds how many). The
 * thread starts with the first fill and does not keep the process alive while it has nothing
 * to do.
 *
 * If the thread dies, the fills it held fail with a CacheError (the tier's health decides
 * what happens next) unless their commit landed, and those waiting go to a new thread; LMDB
 * rolls back a transaction that was not committed, so nothing half-written is ever read.
 */
import { Worker } from 'node:worker_threads'
import { CacheError } from '../errors.js'
import { placeBehindHeader, type CachedObjectRecord } from './lmdb-layout.js'
import type { FillReply, FillRequest, WriterSetup } from './disk-writer-thread.js'
import type { FillOutcome } from './lmdb-fill.js'

interface Fill {
  key: Uint8Array
  bytes: Uint8Array
  maxBytes: number
  object: CachedObjectRecord | undefined
  runSince: number | undefined
  resolve: (outcome: FillOutcome) => void
  reject: (err: Error) => void
  /** Resolves when the fill has settled either way. */
  settled: Promise<void>
}

export class DiskWriter {
  private worker: Worker | undefined
  private readonly waiting: Fill[] = []
  private readonly atThread = new Map<number, Fill>()
  private readonly spare: ArrayBuffer[] = []
  private nextId = 0
  private closed = false
  private closing: Promise<void> | undefined
  private exited: Promise<void> = Promise.resolve()

  constructor(
    private readonly setup: WriterSetup,
    /** Called after every commit the thread reports, before its fill settles. */
    private readonly onCommitted: () => void,
    /** Whether a block is in the tier now (after onCommitted): for fills a dead thread held. */
    private readonly isStored: (key: Uint8Array) => boolean = () => false,
    private readonly slots = 8,
  ) {}

  /**
   * Stores a block through the writer thread (`runSince`: as in lmdb-fill.ts's BlockToStore).
   * Rejects with a CacheError if the commit failed.
   */
  write(key: Uint8Array, bytes: Uint8Array, maxBytes: number, object?: CachedObjectRecord, runSince?: number): Promise<FillOutcome> {
    if (this.closed) return Promise.reject(new CacheError('disk', `write to ${this.setup.path} failed: the tier is closed`))
    let fill: Fill | undefined
    const outcome = new Promise<FillOutcome>((resolve, reject) => {
      fill = { key, bytes, maxBytes, object, runSince, resolve, reject, settled: Promise.resolve() }
    })
    fill!.settled = outcome.then(
      () => {},
      () => {},
    )
    this.waiting.push(fill!)
    this.pump()
    return outcome
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.atThread.size < this.slots) {
      const fill = this.waiting.shift()!
      const id = this.nextId++
      try {
        const worker = this.start()
        const buffer = placeBehindHeader(this.spare.pop(), fill.bytes)
        this.atThread.set(id, fill)
        const request: FillRequest = { type: 'fill', id, key: fill.key, buffer, length: fill.bytes.length, maxBytes: fill.maxBytes, ...(fill.object ? { object: fill.object } : {}), ...(fill.runSince === undefined ? {} : { runSince: fill.runSince }) }
        worker.postMessage(request, [buffer])
      } catch (err) {
        // A thread that cannot start (or a message that cannot be sent) fails this fill; it
        // must not be left in no queue, where flush and close would wait for it for ever.
        this.atThread.delete(id)
        fill.reject(new CacheError('disk', `write to ${this.setup.path} failed: ${(err as Error)?.message ?? String(err)}`, err))
      }
    }
    if (this.waiting.length === 0 && this.atThread.size === 0) this.worker?.unref()
  }

  private start(): Worker {
    if (this.worker) {
      this.worker.ref()
      return this.worker
    }
    const worker = new Worker(new URL('./disk-writer-thread.js', import.meta.url), {
      workerData: this.setup,
      // A thread inherits the process's flags, and one started by `node --input-type=module -e`
      // fails to load any file with that flag.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')),
    })
    this.worker = worker
    worker.on('message', (reply: FillReply) => this.settle(reply))
    // 'error' is followed by 'exit'; both fail what the thread held.
    worker.on('error', (err) => this.lost(worker, err))
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.lost(worker, new Error(`the disk writer thread exited with code ${code}`))
        resolve()
      })
    })
    return worker
  }

  private settle(reply: FillReply): void {
    const fill = this.atThread.get(reply.id)
    if (fill === undefined) return
    this.atThread.delete(reply.id)
    if (this.spare.length < this.slots) this.spare.push(reply.buffer)
    this.onCommitted()
    if (reply.error !== undefined) fill.reject(new CacheError('disk', `write to ${this.setup.path} failed: ${reply.error}`))
    else fill.resolve({ stored: reply.stored, evictions: reply.evictions })
    this.pump()
  }

  private lost(worker: Worker, cause: unknown): void {
    if (this.worker !== worker) return
    this.worker = undefined
    const failed = [...this.atThread.values()]
    this.atThread.clear()
    const message = `write to ${this.setup.path} failed: ${(cause as Error)?.message ?? String(cause)}`
    // A thread that died after a commit but before its reply: those fills are stored.
    this.onCommitted()
    for (const fill of failed) {
      if (this.isStored(fill.key)) fill.resolve({ stored: true, evictions: 0 })
      else fill.reject(new CacheError('disk', message, cause))
    }
    this.pump() // fills still waiting go to a new thread
  }

  /**
   * Resolves once every fill handed over so far has settled. Deletions wait for it, so a fill
   * issued before an eviction cannot commit after it and bring the block back.
   */
  async idle(): Promise<void> {
    await Promise.all([...this.waiting, ...this.atThread.values()].map((fill) => fill.settled))
  }

  /** Waits for every fill handed over so far, then stops the thread. Later fills are refused. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.closed = true // so no fill joins after the ones idle() waits for
    await this.idle()
    const worker = this.worker
    if (!worker) return
    worker.ref()
    worker.postMessage({ type: 'close' })
    await this.exited
  }
}
