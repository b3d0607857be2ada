/**
 * One "node" of a training cluster for the cluster benchmark: a process of its own with a
 * BlockReader (its own cache directory and memory tier, and the shared Redis Cluster when
 * given one) that reads the whole dataset with the TFRecord iterator, both CRCs of every
 * record checked, once per `epoch` the parent asks for.
 *
 * The parent drives it over stdio, so several nodes start their epochs together and the
 * parent can read the remote-store model's counters between epochs: the child prints
 * `{"type":"ready"}` once its reader is ready (process start and imports are not timed),
 * answers each `epoch` line on stdin with one `{"type":"epoch", ...}` line (NodeEpoch), and
 * closes its reader and exits when stdin closes, so a parent that dies takes its nodes along.
 *
 * Imported as a module it offers `startNode`; run as a script it is the child.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { BlockReader, type BlockReaderOptions } from '../../lib/index.js'
import { tfrecords } from '../../loaders/tfrecord/index.js'
import { epochDelta, type NodeEpoch } from './cluster-figures.js'
import { timeEpoch } from './epoch-consumer.js'

const SELF = fileURLToPath(import.meta.url)

export interface NodeSpec {
  /** Printed with its figures: `node 2`. */
  name: string
  options: BlockReaderOptions
  /** The shards, as one glob (`s3://bench/imagenet/train/*.tfrecord`). */
  glob: string
  /** Records an epoch must deliver; fewer or more fails the epoch. */
  records: number
}

export interface ClusterNode {
  readonly name: string
  readonly pid: number
  /** Resolves once the node's reader is ready. */
  readonly ready: Promise<void>
  /** Runs one epoch; rejects if the node fails, exits, or takes longer than `timeoutMs`. */
  epoch(timeoutMs: number): Promise<NodeEpoch>
  /** Closes the node's stdin and resolves once it has exited (SIGKILL after 10 s). */
  close(): Promise<void>
  /** SIGKILLs the node (after a failure: a hung node must not hold up the cleanup). */
  kill(): Promise<void>
}

type Message = { type: 'ready' } | { type: 'epoch'; epoch: NodeEpoch } | { type: 'error'; message: string }

/** Node flags for the node processes (`--cpu-prof --cpu-prof-dir=/tmp/p` to profile them), from BENCH_CLUSTER_NODE_ARGS. */
const NODE_ARGS = (process.env.BENCH_CLUSTER_NODE_ARGS ?? '').split(' ').filter(Boolean)

export function startNode(spec: NodeSpec): ClusterNode {
  const child = spawn(process.execPath, [...NODE_ARGS, SELF, JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  })
  const waiting: { resolve: (m: Message) => void; reject: (err: Error) => void }[] = []
  let failure: Error | undefined
  const fail = (err: Error) => {
    failure ??= err
    for (const w of waiting.splice(0)) w.reject(failure)
  }
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let m: Message
    try {
      m = JSON.parse(line) as Message
    } catch {
      return fail(new Error(`${spec.name}: unexpected output ${JSON.stringify(line.slice(0, 200))}`))
    }
    if (m.type === 'error') return fail(new Error(`${spec.name}: ${m.message}`))
    waiting.shift()?.resolve(m)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('error', (err) => fail(err))
  child.once('exit', (code, signal) => fail(new Error(`${spec.name} exited (${signal ?? `code ${code}`})`)))
  const next = () => (failure ? Promise.reject(failure) : new Promise<Message>((resolve, reject) => waiting.push({ resolve, reject })))
  const ready = next().then(() => undefined)
  ready.catch(() => {})
  let closed: Promise<void> | undefined
  return {
    name: spec.name,
    pid: child.pid ?? -1,
    ready,
    async epoch(timeoutMs) {
      const reply = next()
      child.stdin!.write('epoch\n')
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${spec.name}: epoch not done within ${timeoutMs / 1000} s (hung?)`)), timeoutMs)
      })
      try {
        const m = await Promise.race([reply, timeout])
        if (m.type !== 'epoch') throw new Error(`${spec.name}: expected an epoch report, got ${m.type}`)
        return m.epoch
      } finally {
        clearTimeout(timer)
      }
    },
    close() {
      closed ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.stdin!.end()
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(killer)
      })()
      return closed
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

async function runChild(spec: NodeSpec): Promise<void> {
  const send = (m: Message) => process.stdout.write(JSON.stringify(m) + '\n')
  const reader = new BlockReader(spec.options)
  await reader.ready()
  send({ type: 'ready' })
  // Epochs run one at a time, in the order asked; stdin closing ends the node after the current one.
  let chain = Promise.resolve()
  const input = createInterface({ input: process.stdin })
  input.on('line', (line) => {
    if (line.trim() !== 'epoch') return
    chain = chain.then(async () => {
      const before = reader.stats()
      const cpu0 = process.cpuUsage()
      const timing = await timeEpoch(() => tfrecords(reader, spec.glob))
      const cpu = process.cpuUsage(cpu0)
      if (timing.items !== spec.records) throw new Error(`read ${timing.items} records, expected ${spec.records}`)
      const t = performance.now()
      await reader.flush()
      const flushSeconds = (performance.now() - t) / 1000
      send({ type: 'epoch', epoch: epochDelta(spec.name, timing, (cpu.user + cpu.system) / 1e6, flushSeconds, before, reader.stats()) })
    })
    chain.catch((err: unknown) => {
      send({ type: 'error', message: (err as Error)?.stack ?? String(err) })
      process.exit(1)
    })
  })
  input.on('close', () => {
    void chain.then(() => reader.close()).finally(() => process.exit(0))
  })
}

if (process.argv[1] === SELF) {
  const spec = JSON.parse(process.argv[2]!) as NodeSpec
  runChild(spec).catch((err: unknown) => {
    process.stdout.write(JSON.stringify({ type: 'error', message: (err as Error)?.stack ?? String(err) }) + '\n')
    process.exit(1)
  })
}
