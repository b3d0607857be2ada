#!/usr/bin/env bash
# Mount a bucket prefix read-only, run a Python job on its files, unmount.
#
#   examples/mount-bucket.sh s3://bucket/train /mnt/train
#
# The store comes from the standard AWS_* variables (AWS_ENDPOINT_URL for MinIO/Ceph/s3rver,
# AWS_REGION, credentials or AWS_PROFILE). SLUICE_CACHE_DIR is the shared disk cache.
set -euo pipefail
prefix=${1:?usage: mount-bucket.sh <s3://bucket/prefix> <mountpoint>}
mnt=${2:?usage: mount-bucket.sh <s3://bucket/prefix> <mountpoint>}
cache=${SLUICE_CACHE_DIR:-/var/cache/sluice}
sluice=${SLUICE:-sluice}
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$mnt" "$cache"
log=$(mktemp)
# Foreground daemon in the background of this script; it prints "mounted ..." when ready.
$sluice mount "$prefix" "$mnt" --cache-dir "$cache" --memory 2GiB --disk 100GiB >"$log" 2>&1 &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null || true   # SIGTERM: unmount cleanly, flush the cache
  wait "$daemon" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

for _ in $(seq 100); do
  grep -q '^mounted ' "$log" && break
  if ! kill -0 "$daemon" 2>/dev/null; then cat "$log" >&2; exit 1; fi
  sleep 0.1
done
grep -q '^mounted ' "$log" || { echo "mount did not come up:" >&2; cat "$log" >&2; exit 1; }

python3 "$here/mount-read-tfrecords.py" "$mnt"    # epoch 1: fills the cache
python3 "$here/mount-read-tfrecords.py" "$mnt"    # epoch 2: page cache / sluice cache, no store requests
