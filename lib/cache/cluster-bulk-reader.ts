/**
 * Reads the bulk of cluster values (cluster-value.ts) straight from the socket into the block
 * buffer that the tiers keep, over one plain connection per master, beside the ioredis client.
 *
 * Why not ioredis for these GETs: its reply decoder gathers a 4 MiB reply as some sixty
 * socket chunks, each a new buffer, and joins them into another new buffer, which the cluster
 * tier then copies a third time, into the block with the value's tail. On the VM this was
 * measured on, touching new memory is what a joining node spends most of its CPU on (2.4-2.8 s
 * per GB against 0.07 for memory touched before; bench/cluster.ts, docs/benchmark.md). Here
 * the kernel copies each reply into its block directly (net.Socket's `onread` with a buffer
 * chosen per read), so a block costs one new buffer and no copy in JavaScript.
 *
 * It answers only what it is sure of: a bulk string, or a null for a missing key. Anything
 * else (a MOVED or ASK after a resharding, an error, a connection that failed or timed out,
 * TLS, a slot ioredis does not know yet) resolves `undefined`, and the caller asks ioredis,
 * which follows redirections and owns the cluster's topology; ioredis's slot map says which
 * master to ask. A failed connection is dropped and opened again, at most once per second.
 */
import net from 'node:net'
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import { allocBlock } from '../block-buffer.js'

/** A bulk read into a block buffer: `block` is `allocBlock(length + room)` (or the caller's buffer), its first `length` bytes the value. */
export interface BulkInBlock {
  block: Buffer
  length: number
}

/** What a read resolves to: the value, null for no such key, or undefined where ioredis must answer. */
export type BulkReply = BulkInBlock | null | undefined

export interface BulkReaderOptions {
  username: string | undefined
  password: string | undefined
  /** A connection with requests waiting and no byte for this long is closed (its reads resolve undefined). */
  idleTimeoutMs: number
  connectTimeoutMs: number
  /** A value longer than this is left to ioredis (the connection is dropped rather than read on), so no reply allocates more. */
  maxValueBytes: number
  /** A master whose connection failed is not connected to again for this long (ms); its reads go to ioredis meanwhile. Default 1000. */
  reopenAfterMs?: number
}

/** Bytes a reply line may take (`$4194240\r\n`, `-MOVED 1234 127.0.0.1:7001\r\n`) before the stream is judged garbled. */
const MAX_LINE_BYTES = 4096
/** Socket reads outside a bulk land here. */
const SCRATCH_BYTES = 64 * 1024
const REOPEN_AFTER_MS = 1000
/** Requests one connection holds at most; past it, reads go to ioredis. */
const MAX_WAITERS = 1024

interface Waiter {
  /** Bytes to allocate after the value (at least the CRLF that ends it). */
  room: number
  /** Read into this buffer instead, if the value and its CRLF fit. */
  into: Buffer | undefined
  resolve: (reply: BulkReply) => void
}

/** One master's connection: requests written in order, replies matched to them in order. */
class BulkConnection {
  private readonly socket: net.Socket
  private readonly waiters: Waiter[] = []
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
  /** The reply being read into its block: `filled` bytes of `end` (value + CRLF) so far. */
  private body: { waiter: Waiter; block: Buffer; length: number; filled: number; end: number } | undefined
  /** Start of a reply line cut by a read. */
  private partial: Buffer | undefined
  /** Replies still owed to commands sent before the first GET (AUTH): skipped. */
  private preamble = 0
  private readonly idleTimeoutMs: number
  private readonly maxValueBytes: number
  /**
   * The last time the server showed it was answering: a byte received, or the connection
   * going from idle to owed a reply. Writes do not count (a socket timeout would: every new
   * request would push back the deadline of a connection that stopped answering).
   */
  private heardAt = 0
  private watchdog: NodeJS.Timeout | undefined
  broken = false

  constructor(
    host: string,
    port: number,
    options: BulkReaderOptions,
    private readonly onBroken: () => void,
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs
    this.maxValueBytes = options.maxValueBytes
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        // Called before each read: into the block while a value is being read (no further
        // than its end, so the next reply never lands in it), else into the scratch buffer.
        buffer: () => (this.body === undefined ? this.scratch : this.body.block.subarray(this.body.filled, this.body.end)),
        callback: (bytes: number, into: Uint8Array) => {
          this.received(bytes, into)
          return true
        },
      },
    })
    this.socket.setTimeout(options.connectTimeoutMs)
    this.socket.once('connect', () => {
      this.socket.setTimeout(0)
      // A peer that vanished without a FIN is found by the kernel, not only by the watchdog.
      this.socket.setKeepAlive(true, this.idleTimeoutMs)
    })
    this.socket.on('timeout', () => this.fail())
    this.socket.on('error', () => this.fail())
    this.socket.on('close', () => this.fail())
    if (options.password !== undefined) {
      this.preamble++
      this.send(options.username === undefined ? ['AUTH', options.password] : ['AUTH', options.username, options.password])
    }
  }

  /** Sends `command` (GET or GETEX, the key second); resolves with its reply. */
  request(command: string[], room: number, into: Buffer | undefined): Promise<BulkReply> {
    if (this.broken || this.waiters.length >= MAX_WAITERS) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      if (!this.busy()) this.heardAt = performance.now()
      this.waiters.push({ room, into, resolve })
      this.watch()
      this.send(command)
    })
  }

  /** A reply owed or being read. */
  private busy(): boolean {
    return this.waiters.length > 0 || this.body !== undefined
  }

  /** Fails the connection once it has been busy for idleTimeoutMs without a byte from the server. */
  private watch(): void {
    if (this.watchdog !== undefined || !this.busy()) return
    const quietMs = performance.now() - this.heardAt
    if (quietMs >= this.idleTimeoutMs) return this.fail()
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined
      this.watch()
    }, this.idleTimeoutMs - quietMs)
    this.watchdog.unref()
  }

  close(): void {
    this.fail()
  }

  private send(args: string[]): void {
    let out = `*${args.length}\r\n`
    for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`
    this.socket.write(out)
  }

  private received(bytes: number, into: Uint8Array): void {
    if (this.broken) return
    this.heardAt = performance.now()
    const body = this.body
    if (body !== undefined && into !== this.scratch) {
      body.filled += bytes
      this.finishBody()
      return
    }
    this.parse(this.scratch.subarray(0, bytes))
  }

  /** Replies in `data` (read into the scratch buffer): lines answered at once, a value's start copied into its block. */
  private parse(data: Buffer): void {
    if (this.partial !== undefined) {
      data = Buffer.concat([this.partial, data])
      this.partial = undefined
    }
    while (data.length > 0 && !this.broken) {
      const body = this.body
      if (body !== undefined) {
        const take = Math.min(body.end - body.filled, data.length)
        body.block.set(data.subarray(0, take), body.filled)
        body.filled += take
        data = data.subarray(take)
        this.finishBody()
        continue
      }
      const eol = data.indexOf('\r\n')
      if (eol < 0) {
        if (data.length > MAX_LINE_BYTES) return this.fail()
        this.partial = Buffer.from(data)
        return
      }
      this.line(data.toString('latin1', 0, eol))
      data = data.subarray(eol + 2)
    }
  }

  /** A reply's first line: a bulk header starts a body; anything else answers its request. */
  private line(line: string): void {
    if (this.preamble > 0) {
      this.preamble--
      // AUTH refused: every GET would be refused too; ioredis reports why.
      if (line[0] !== '+') this.fail()
      return
    }
    const waiter = this.waiters.shift()
    if (waiter === undefined) return this.fail()
    if (line[0] !== '$') {
      // An error (MOVED, ASK, WRONGTYPE, LOADING...) or an answer a GET never gets: ioredis asks again.
      if (line[0] === '-' || line[0] === '+' || line[0] === ':') return waiter.resolve(undefined)
      waiter.resolve(undefined)
      return this.fail() // an array or a RESP3 type: the stream is no longer understood
    }
    if (line === '$-1') return waiter.resolve(null)
    const length = /^\$\d{1,15}$/.test(line) ? Number(line.slice(1)) : NaN
    if (!(length <= this.maxValueBytes)) {
      waiter.resolve(undefined)
      return this.fail()
    }
    const room = Math.max(2, waiter.room)
    const block = waiter.into !== undefined && waiter.into.length >= length + room ? waiter.into : allocBlock(length + room)
    this.body = { waiter, block, length, filled: 0, end: length + 2 }
    this.finishBody()
  }

  private finishBody(): void {
    const body = this.body!
    if (body.filled < body.end) return
    this.body = undefined
    if (body.block[body.length] !== 0x0d || body.block[body.length + 1] !== 0x0a) {
      body.waiter.resolve(undefined)
      return this.fail()
    }
    body.waiter.resolve({ block: body.block, length: body.length })
  }

  /**
   * Drops the connection; every request still waiting resolves undefined. The reader hears of
   * it at once, not at the socket's later 'close', so the reopen delay holds from now.
   */
  private fail(): void {
    if (!this.broken) {
      this.broken = true
      clearTimeout(this.watchdog)
      this.socket.destroy()
      this.onBroken()
    }
    const body = this.body
    this.body = undefined
    body?.waiter.resolve(undefined)
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined)
  }
}

/** Bulk GETs for the cluster tier, one connection per master, over ioredis's slot map. */
export class ClusterBulkReader {
  private readonly connections = new Map<string, BulkConnection>()
  private readonly brokenAt = new Map<string, number>()
  private closed = false

  constructor(
    private readonly client: Cluster,
    private readonly options: BulkReaderOptions,
  ) {}

  /**
   * `command` (GET or GETEX, its key at index 1) on the master that holds the key; resolves
   * the value in a block with `room` spare bytes after it, null, or undefined (ask ioredis).
   * The block is `into` when the value and `room` fit in it (a caller reusing buffers), else new.
   */
  read(command: string[], room: number, into?: Buffer): Promise<BulkReply> {
    const connection = this.closed ? undefined : this.connectionFor(command[1]!)
    return connection === undefined ? Promise.resolve(undefined) : connection.request(command, room, into)
  }

  close(): void {
    this.closed = true
    for (const connection of [...this.connections.values()]) connection.close()
    this.connections.clear()
  }

  private connectionFor(key: string): BulkConnection | undefined {
    const node = this.client.slots[calculateSlot(key)]?.[0]
    if (node === undefined) return undefined
    const open = this.connections.get(node)
    if (open !== undefined && !open.broken) return open
    if (performance.now() - (this.brokenAt.get(node) ?? -Infinity) < (this.options.reopenAfterMs ?? REOPEN_AFTER_MS)) return undefined
    const colon = node.lastIndexOf(':')
    const connection = new BulkConnection(node.slice(0, colon), Number(node.slice(colon + 1)), this.options, () => {
      if (this.connections.get(node) === connection) {
        this.connections.delete(node)
        this.brokenAt.set(node, performance.now())
      }
    })
    this.connections.set(node, connection)
    return connection
  }
}
