#!/usr/bin/env python3
"""Read TFRecord shards from a sluice mount, as a training job would.

The mount makes s3://bucket/train look like a local directory, so any reader works: with
TensorFlow installed this uses tf.data.TFRecordDataset; without it, a small pure-Python
reader that walks the TFRecord framing (length, length-CRC, payload, payload-CRC).

    sluice mount s3://bucket/train /mnt/train --cache-dir /var/cache/sluice &
    python3 examples/mount-read-tfrecords.py /mnt/train

A second run (the next epoch) is served from the kernel page cache or the sluice cache,
without requests to the object store.
"""
import os
import struct
import sys
import time


def shards(root):
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith(('.tfrecord', '.tfrecords')) or '.tfrecord-' in name:
                yield os.path.join(dirpath, name)


def records(path):
    """Yields the payloads of one uncompressed TFRecord file (CRCs not checked here)."""
    with open(path, 'rb') as f:
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise IOError(f'{path}: truncated record header')
            (length,) = struct.unpack('<Q', header[:8])
            payload = f.read(length)
            if len(payload) < length or len(f.read(4)) < 4:
                raise IOError(f'{path}: truncated record')
            yield payload


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '/mnt/train'
    files = list(shards(root))
    if not files:
        sys.exit(f'no TFRecord files under {root}')
    started = time.perf_counter()
    try:
        import tensorflow as tf  # noqa: F401
        dataset = tf.data.TFRecordDataset(files, num_parallel_reads=len(files))
        count = sum(1 for _ in dataset)
        payload = None
    except ImportError:
        count = payload = 0
        for path in files:
            for record in records(path):
                count += 1
                payload += len(record)
    seconds = time.perf_counter() - started
    extra = '' if payload is None else f', {payload} payload bytes'
    print(f'{len(files)} files, {count} records{extra} in {seconds:.2f} s')


if __name__ == '__main__':
    main()
