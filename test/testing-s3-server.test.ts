/**
 * `startS3Server` (sluice/testing) where s3rver is not installed. s3rver is a development
 * dependency of sluice, so a user's install of `sluice/testing` may lack it; starting a
 * server must then fail with an error that names the package to install, not with a child
 * process that exits early.
 *
 * The compiled module is copied into a temporary directory with no node_modules above it,
 * which is what an install without s3rver looks like to its resolver (the module imports
 * only Node built-ins at load time).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const test = suite('startS3Server without s3rver')
const built = fileURLToPath(new URL('../lib/testing/', import.meta.url))

test('fails with an error that says to install s3rver', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-no-s3rver-'))
  try {
    for (const file of ['s3-server.js', 's3-server-process.js']) await copyFile(join(built, file), join(dir, file))
    const { startS3Server } = (await import(pathToFileURL(join(dir, 's3-server.js')).href)) as typeof import('../lib/testing/s3-server.js')
    let caught: unknown
    try {
      const server = await startS3Server({ directory: dir })
      await server.close()
    } catch (err) {
      caught = err
    }
    assert.instance(caught, Error, 'startS3Server must reject')
    const err = caught as Error & { cause?: { code?: string } }
    assert.match(err.message, /s3rver/)
    assert.match(err.message, /npm install --save-dev s3rver/)
    assert.is(err.cause?.code, 'ERR_MODULE_NOT_FOUND')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
