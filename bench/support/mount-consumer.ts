/**
 * The FUSE scenario's consumer, run as a child process: it reads TFRecord shards from the
 * mounted paths given on the command line with the same `tfrecords()` iterator the other
 * scenarios use, but over plain local-file reads (bench/support/plain-file-reader.ts), so
 * every byte crosses the kernel and the mount like a TensorFlow job's reads would. It must
 * be another process: the benchmark process serves the mount, and a synchronous read of a
 * mounted file from it would wait on itself. Prints one JSON line: the epoch timing.
 */
import { pathToFileURL } from 'node:url'
import { tfrecords } from '../../loaders/tfrecord/index.js'
import { timeEpoch } from './epoch-consumer.js'
import { PlainFileReader } from './plain-file-reader.js'

const paths = process.argv.slice(2)
const reader = new PlainFileReader(4 * 1024 * 1024)
const timing = await timeEpoch(() => tfrecords(reader, paths.map((p) => pathToFileURL(p).href)))
process.stdout.write(JSON.stringify(timing) + '\n')
