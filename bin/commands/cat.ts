/**
 * `sluice cat`: one object (or a byte range of it) to stdout, through the cache. Streams with
 * read-ahead and respects stdout's backpressure; a closed pipe (`| head`) ends it quietly.
 */
import type { Command } from '../support/command.js'
import { UsageError } from '../support/exit-codes.js'
import { CACHE_OPTIONS, STORE_OPTIONS, createReader, whenReady } from '../support/reader-options.js'
import { sizeOption } from '../support/values.js'

/** Waits until the stream wants more, or is closed or broken (then the caller stops writing). */
function drainOrClose(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      stream.off('drain', finish)
      stream.off('close', finish)
      stream.off('error', finish)
      done()
    }
    stream.on('drain', finish)
    stream.on('close', finish)
    stream.on('error', finish)
  })
}

export const catCommand: Command = {
  name: 'cat',
  summary: 'Write an object (or a byte range of it) to stdout, through the cache.',
  usage: ['sluice cat <url> [--offset <bytes>] [--length <bytes>]'],
  description: `
Reads <url> through the block cache and writes its bytes to stdout. With --cache-dir the
blocks it reads stay in the disk tier for later readers (a mount, a training job).`,
  groups: [
    {
      title: 'Options',
      options: {
        offset: { type: 'string', value: 'bytes', help: 'First byte to write (sizes like 4MiB allowed). Default 0.' },
        length: { type: 'string', value: 'bytes', help: 'Bytes to write at most. Default: to the end.' },
      },
    },
    { title: 'Cache', options: CACHE_OPTIONS },
    { title: 'Store', options: STORE_OPTIONS },
  ],
  examples: [
    'sluice cat s3://bucket/train/shard-00000.tfrecord > shard.tfrecord',
    'sluice cat s3://bucket/train/shard-00000.tfrecord --offset 1MiB --length 16 | xxd',
  ],
  positionals: [1, 1],
  async run(ctx) {
    const offset = sizeOption(ctx.values.offset as string | undefined, 'offset') ?? 0
    const length = sizeOption(ctx.values.length as string | undefined, 'length')
    if (ctx.stdout.isTTY && length === undefined) ctx.log('writing binary data to a terminal; pipe it or use --length')
    const reader = createReader(ctx)
    await whenReady(ctx, reader)
    let pipeClosed = false
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') pipeClosed = true
      else throw err
    }
    ctx.stdout.on('error', onError)
    try {
      const handle = await reader.open(ctx.positionals[0]!)
      if (offset > handle.size) throw new UsageError(`--offset ${offset} is past the end of the object (${handle.size} bytes)`)
      const end = length === undefined ? handle.size : Math.min(handle.size, offset + length)
      try {
        for await (const chunk of handle.chunks({ start: offset, end })) {
          if (pipeClosed) break
          if (!ctx.stdout.write(chunk)) await drainOrClose(ctx.stdout)
        }
      } finally {
        await handle.close()
      }
      return 0
    } catch (err) {
      // The reader of the pipe went away (`| head`): that is how pipelines end, not a failure.
      if (pipeClosed || (err as NodeJS.ErrnoException).code === 'EPIPE') return 0
      throw err
    } finally {
      await reader.close()
      ctx.stdout.off('error', onError)
    }
  },
}
