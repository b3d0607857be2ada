/**
 * Hostile and malformed input (issue 6): every malformed input to the public API fails with a
 * clear error naming what is wrong, before any I/O. BlockReader options give a TypeError or
 * RangeError whose message names the option path; malformed URLs given to open/stat/list
 * reject with ERR_SLUICE_INVALID_URL (or _UNSUPPORTED_SCHEME) and the URL in the message; bad
 * read ranges give a RangeError naming the argument; bad tfrecords options name the option;
 * and the CLI answers malformed arguments with exit code 2 and exactly one line on stderr.
 * MemorySource stands in for a store where a server is not needed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, InvalidUrlError, MemorySource, UnsupportedSchemeError, type BlockReaderOptions } from '../lib/index.js'
import { tfrecords } from '../loaders/tfrecord/index.js'
import { sluice } from './support/fuse-dataset.js'
import { tempDir } from './support/fuse-env.js'
import { rm } from 'node:fs/promises'

function throwsNaming(options: unknown, path: string, kind: 'TypeError' | 'RangeError'): void {
  try {
    new BlockReader(options as BlockReaderOptions)
  } catch (err) {
    assert.is((err as Error).constructor.name, kind, `${JSON.stringify(options)}: ${String(err)}`)
    assert.ok((err as Error).message.includes(path), `message should name ${path}: ${(err as Error).message}`)
    return
  }
  assert.unreachable(`new BlockReader(${JSON.stringify(options)}) did not throw`)
}

test('BlockReader options: wrong types and ranges name the option path', () => {
  const cases: [unknown, string, 'TypeError' | 'RangeError'][] = [
    [{ memory: 5 }, 'memory', 'TypeError'],
    [{ memory: { maxBytes: -1 } }, 'memory.maxBytes', 'RangeError'],
    [{ memory: { maxBytes: '1GiB' } }, 'memory.maxBytes', 'TypeError'],
    [{ memory: { maxBytes: Infinity } }, 'memory.maxBytes', 'TypeError'],
    [{ disk: 'big' }, 'disk', 'TypeError'],
    [{ disk: { maxBytes: 100 } }, 'disk.maxBytes', 'RangeError'],
    [{ disk: { maxBytes: 1.5e6 + 0.5 } }, 'disk.maxBytes', 'TypeError'],
    [{ disk: { maxConsecutiveErrors: 0 } }, 'disk.maxConsecutiveErrors', 'RangeError'],
    [{ disk: { retryAfterMs: -5 } }, 'disk.retryAfterMs', 'RangeError'],
    [{ blockSize: '4MiB' }, 'blockSize', 'TypeError'],
    [{ blockSize: NaN }, 'blockSize', 'TypeError'],
    [{ blockSize: 1024 }, 'blockSize', 'RangeError'],
    [{ blockSize: 1024 ** 3 }, 'blockSize', 'RangeError'],
    [{ prefetch: [] as unknown }, 'prefetch', 'TypeError'],
    [{ prefetch: { threads: -1 } }, 'prefetch.threads', 'RangeError'],
    [{ prefetch: { threads: 1000 } }, 'prefetch.threads', 'RangeError'],
    [{ prefetch: { maxInflightBytes: 'lots' } }, 'prefetch.maxInflightBytes', 'TypeError'],
    [{ prefetch: { maxReadAheadBytes: -1 } }, 'prefetch.maxReadAheadBytes', 'RangeError'],
    [{ prefetch: { coalesceBytes: 2 ** 40 } }, 'prefetch.coalesceBytes', 'RangeError'],
    [{ prefetch: { maxConcurrentRequests: 0 } }, 'prefetch.maxConcurrentRequests', 'RangeError'],
    [{ retry: 3 }, 'retry', 'TypeError'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts', 'RangeError'],
    [{ retry: { maxAttempts: '3' } }, 'retry.maxAttempts', 'TypeError'],
    [{ retry: { baseDelayMs: -1 } }, 'retry.baseDelayMs', 'RangeError'],
    [{ retry: { maxDelayMs: 1.5 } }, 'retry.maxDelayMs', 'TypeError'],
    [{ retry: { requestTimeoutMs: 0 } }, 'retry.requestTimeoutMs', 'RangeError'],
    [{ offline: 'maybe' }, 'offline', 'TypeError'],
    [{ offline: true }, 'offline', 'TypeError'],
    [{ cacheDir: '' }, 'cacheDir', 'TypeError'],
    [{ cacheDir: 42 }, 'cacheDir', 'TypeError'],
    [{ sources: new MemorySource('mem') }, 'sources', 'TypeError'],
    [{ sources: 'mem' }, 'sources', 'TypeError'],
    [{ sources: [42] }, 'sources[0]', 'TypeError'],
    [{ sources: [new MemorySource('mem'), null] }, 'sources[1]', 'TypeError'],
    // Misspelt options are errors, not silently kept defaults.
    [{ memroy: { maxBytes: 1 } }, 'memroy', 'TypeError'],
    [{ prefetch: { thread: 2 } }, 'prefetch.thread', 'TypeError'],
    [{ s3: { endpont: 'http://x' } }, 's3.endpont', 'TypeError'],
  ]
  for (const [options, path, kind] of cases) throwsNaming(options, path, kind)
  // The options object itself.
  throwsNaming(42, 'options', 'TypeError')
})

/** Each malformed URL and the error it must give: the class and its stable code. */
const INVALID = [InvalidUrlError, 'ERR_SLUICE_INVALID_URL'] as const
const BAD_URLS: [string, readonly [typeof InvalidUrlError | typeof UnsupportedSchemeError, string]][] = [
  ['', INVALID],
  ['not a url', INVALID],
  ['s3://', INVALID],
  ['s3:///key', INVALID],
  ['s3://bad bucket/key', INVALID],
  ['gs://b/k', [UnsupportedSchemeError, 'ERR_SLUICE_UNSUPPORTED_SCHEME']],
  ['file://relative', INVALID],
]

test('open / stat / list reject malformed URLs with an ERR_SLUICE_ code and the URL', async () => {
  const reader = new BlockReader({ sources: [new MemorySource('mem')] })
  try {
    for (const [url, [type, code]] of BAD_URLS) {
      for (const op of ['open', 'stat', 'list'] as const) {
        try {
          await reader[op](url)
          assert.unreachable(`${op}(${JSON.stringify(url)}) succeeded`)
        } catch (err) {
          const e = err as Error & { code?: string }
          assert.instance(e, type, `${op}(${JSON.stringify(url)}): ${String(err)}`)
          assert.is(e.code, code, `${op}(${JSON.stringify(url)}): ${String(err)}`)
          if (url !== '') assert.ok(e.message.includes(url), `${op}: message should contain ${url}: ${e.message}`)
          else assert.ok(e.message.includes('""'), `${op}: message should show the empty URL: ${e.message}`)
        }
      }
    }
  } finally {
    await reader.close()
  }
})

test('handle.read / readInto reject bad ranges with RangeError', async () => {
  const source = new MemorySource('mem')
  source.put('mem://b/obj', new Uint8Array(100).fill(7))
  const reader = new BlockReader({ sources: [source] })
  try {
    const handle = await reader.open('mem://b/obj')
    // Each call, and what its message must name: the argument and the value refused.
    const bad: [string, () => Promise<unknown>, RegExp][] = [
      ['read(-1, 10)', () => handle.read(-1, 10), /^read: position .* got -1$/],
      ['read(0, -1)', () => handle.read(0, -1), /^read: length .* got -1$/],
      ['read(1.5, 1)', () => handle.read(1.5, 1), /^read: position .* got 1\.5$/],
      ['read(0, 1.5)', () => handle.read(0, 1.5), /^read: length .* got 1\.5$/],
      ['read(NaN, 1)', () => handle.read(NaN, 1), /^read: position .* got NaN$/],
      ['readInto(buf, 999, 0, 1)', () => handle.readInto(new Uint8Array(10), 999, 0, 1), /^readInto: offset 999 is outside the target buffer/],
      ['readInto(buf, -1, 0, 1)', () => handle.readInto(new Uint8Array(10), -1, 0, 1), /^readInto: offset -1 is outside the target buffer/],
    ]
    for (const [what, call, message] of bad) {
      try {
        await call()
        assert.unreachable(`${what} succeeded`)
      } catch (err) {
        assert.instance(err, RangeError, `${what}: ${String(err)}`)
        assert.match((err as Error).message, message, what)
      }
    }
    // A length past the end of the target is clamped to it (by design, like fs.read), not refused.
    assert.is(await handle.readInto(new Uint8Array(10), 0, 0, 11), 10)
    // The handle still works after the refusals.
    assert.equal(await handle.read(0, 3), new Uint8Array([7, 7, 7]))
  } finally {
    await reader.close()
  }
})

test('tfrecords: bad loader options are refused naming the option', () => {
  const reader = new BlockReader({ sources: [new MemorySource('mem')] })
  const cases: [unknown, string, 'TypeError' | 'RangeError'][] = [
    [{ shuffle: { seed: 1, buffer: -1 } }, 'shuffle.buffer', 'RangeError'],
    [{ shuffle: { seed: 1, buffer: 1.5 } }, 'shuffle.buffer', 'TypeError'],
    [{ shuffle: { seed: 'x' } }, 'shuffle.seed', 'TypeError'],
    [{ shuffle: 'yes' }, 'shuffle', 'TypeError'],
    [{ shuffle: { seed: 1, global: 'no' } }, 'shuffle.global', 'TypeError'],
    [{ compression: 'ZSTD' }, 'compression', 'RangeError'],
    [{ onCorrupt: 'ignore' }, 'onCorrupt', 'RangeError'],
    [{ shard: 3 }, 'shard', 'TypeError'],
    [{ shard: { index: 0, count: 2, mode: 'bytes' } }, 'shard.mode', 'RangeError'],
    [{ readAhead: 5 }, 'readAhead', 'TypeError'],
    [{ signal: 'stop' }, 'signal', 'TypeError'],
    [{ shufle: { seed: 1 } }, 'shufle', 'TypeError'],
    [{ resume: { epoch: 0 } }, 'resume', 'TypeError'],
  ]
  try {
    for (const [options, name, kind] of cases) {
      try {
        tfrecords(reader, 'mem://b/x.tfrecord', options as never)
        assert.unreachable(`tfrecords(${JSON.stringify(options)}) did not throw`)
      } catch (err) {
        assert.is((err as Error).constructor.name, kind, `${JSON.stringify(options)}: ${String(err)}`)
        assert.ok((err as Error).message.includes(name), `message should name ${name}: ${(err as Error).message}`)
      }
    }
  } finally {
    void reader.close()
  }
})

test('CLI: malformed URLs and option values exit 2 with one line on stderr', async () => {
  const cache = await tempDir('malformed-cache')
  const env = undefined
  try {
    const cases: [string[], string, RegExp][] = [
      [['ls', ''], 'ls', /""|URL|url/],
      [['cat', 's3://'], 'cat', /s3:\/\//],
      [['preload', '--cache-dir', cache, '--memory', 'lots', 's3://b/'], 'preload', /--memory|memory/],
      [['cat', 'gs://b/k'], 'cat', /gs/],
      [['ls', 's3://bad bucket/'], 'ls', /bad bucket/],
    ]
    for (const [args, command, pattern] of cases) {
      const r = await sluice(env, args)
      assert.is(r.code, 2, `sluice ${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr}`)
      assert.is(r.stdout, '', `sluice ${args.join(' ')} printed to stdout`)
      const lines = r.stderr.trim().split('\n')
      assert.is(lines.length, 1, `sluice ${args.join(' ')}: expected one stderr line, got:\n${r.stderr}`)
      assert.ok(lines[0]!.startsWith(`sluice ${command}: `) || lines[0]!.startsWith('sluice: '), lines[0])
      assert.match(lines[0]!, pattern)
      assert.not.match(r.stderr, /\n\s+at /, 'no stack trace')
    }
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
})

test.run()
