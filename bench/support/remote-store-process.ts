/**
 * Runs the remote-store proxy in a child process, so that its pacing timers and byte copies
 * do not share an event loop with the reader under measurement (on a 2-core machine the
 * kernel still shares the CPUs; the chart's noise note says so). The parent talks to it over
 * stdio: the child prints its endpoint as one JSON line, answers each `counts` line on stdin
 * with the counters as a JSON line, and exits when stdin closes.
 *
 * Imported as a module it offers `startRemoteStore`; run as a script it is the child.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { RemoteStoreModel } from './link-model.js'
import { startRemoteStoreProxy, type RemoteStoreCounts, type RemoteStoreProxy } from './remote-store-proxy.js'

const SELF = fileURLToPath(import.meta.url)

export interface RemoteStore {
  endpoint: string
  model: RemoteStoreModel
  counts(): Promise<RemoteStoreCounts>
  close(): Promise<void>
}

export async function startRemoteStore(target: string, model: RemoteStoreModel): Promise<RemoteStore> {
  const child = spawn(process.execPath, [SELF, JSON.stringify({ target, model })], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = []
  lines.on('line', (line) => waiting.shift()?.resolve(line))
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`remote-store proxy exited with code ${code}`))
  })
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }))
  const { endpoint } = JSON.parse(await next()) as { endpoint: string }
  let closed: Promise<void> | undefined
  return {
    endpoint,
    model,
    async counts() {
      const reply = next()
      child.stdin!.write('counts\n')
      return JSON.parse(await reply) as RemoteStoreCounts
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.stdin!.end()
        setTimeout(() => child.kill('SIGKILL'), 3000).unref()
      })
      return closed
    },
  }
}

if (process.argv[1] === SELF) {
  const { target, model } = JSON.parse(process.argv[2]!) as { target: string; model: RemoteStoreModel }
  const proxy: RemoteStoreProxy = await startRemoteStoreProxy({ target, model })
  process.stdout.write(JSON.stringify({ endpoint: proxy.endpoint }) + '\n')
  const input = createInterface({ input: process.stdin })
  input.on('line', (line) => {
    if (line.trim() === 'counts') process.stdout.write(JSON.stringify(proxy.counts()) + '\n')
  })
  input.on('close', () => {
    void proxy.close().finally(() => process.exit(0))
  })
}
