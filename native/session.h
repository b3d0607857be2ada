/*
 * The libfuse 3 addon's shared definitions: the request slots and the session, used by the
 * libfuse side (session.c: libfuse's callbacks, the session loop, the reply threads) and the
 * Node-API side (addon.c: batches to JavaScript, the reply functions, mount and close).
 *
 * Why it exists: fuse-native binds libfuse 2, whose requests are capped at 128 KiB and whose
 * every request holds a libfuse thread until JavaScript answers it. libfuse 3 negotiates
 * 1 MiB requests with the kernel, and its low-level API lets a request be answered after its
 * callback returned, from any thread. The addon is built on that:
 *
 * - The session loop's threads (fuse_session_loop_mt) never wait for JavaScript. Each
 *   request is copied into a slot of a fixed table and queued; when the queue goes from
 *   empty to non-empty, one thread-safe-function call is scheduled, and that call hands
 *   everything queued by then to JavaScript as one batch.
 * - JavaScript answers each request whenever its promise settles, by calling a reply
 *   function with the request's id. A read is answered with fuse_reply_iov over the
 *   Uint8Array views JavaScript passes (views of cached blocks): the only copy is the
 *   kernel's, into the reader's pages. That copy is most of a read's cost (about 300 us
 *   per MiB here, against some 20 us for the trip through JavaScript), so it is made on
 *   reply threads of our own, not on the JS thread: the views are held by a reference
 *   until the write is done, then the reference is dropped and the read's id is reported
 *   to JavaScript with the next batch (so it may reuse the memory behind the views).
 * - The slot table is the bound on requests in flight: a loop thread that finds no free slot
 *   waits (re-checking every 100 ms whether the session ended) until JavaScript frees one.
 * - Ids carry the slot's generation, so a late reply to a slot that was recycled (the
 *   session closed under it) is ignored instead of answering another request.
 *
 * Page-cache policy and file-system semantics live in JavaScript (fuse/fuse3-adapter.ts);
 * nothing here knows about objects or paths beyond copying names through.
 */
#ifndef SLUICE_FUSE3_SESSION_H
#define SLUICE_FUSE3_SESSION_H

#define FUSE_USE_VERSION 312
#define NAPI_VERSION 8

#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/uio.h>

/* Requests in flight between the kernel and JavaScript, at most. */
#define SLOTS 1024
/* Views one read reply may gather (a 1 MiB read spans at most two 4 MiB blocks). */
#define MAX_IOV 16
/* Names are at most NAME_MAX (255) bytes; the tree hides longer keys. */
#define NAME_BYTES 256
/* Most threads writing read replies into the kernel (the copy into the page cache). */
#define MAX_REPLY_THREADS 8

/* Request kinds, as JavaScript sees them (exported as `ops`). */
enum op {
  OP_FORGET = 1, OP_LOOKUP, OP_GETATTR, OP_OPEN, OP_READ, OP_RELEASE,
  OP_OPENDIR, OP_READDIR, OP_RELEASEDIR, OP_STATFS, OP_ACCESS, OP_REFUSE,
};

/* A slot is queued for JS, then with JS; a read reply then waits for a reply thread
   (REPLYING) and for the JS thread to drop its views' reference (REPLIED). */
enum slot_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_WITH_JS, SLOT_REPLYING, SLOT_REPLIED };

struct slot {
  uint32_t gen;     /* bumped at every use, part of the id */
  uint8_t state;
  uint8_t op;
  int next;         /* free list or queue link */
  fuse_req_t req;   /* NULL for forgets, which need no reply */
  uint64_t ino, fh, offset, count;
  uint32_t size, flags;
  char name[NAME_BYTES];
  /* A read reply in flight: the views' memory, and the reference keeping them alive. */
  struct iovec iov[MAX_IOV];
  int iovcnt;
  napi_ref views;
};

struct session {
  pthread_mutex_t lock;
  pthread_cond_t slot_freed;
  struct slot slots[SLOTS];
  int free_head, queue_head, queue_tail;
  pthread_cond_t reply_ready;
  int reply_head, reply_tail;  /* read replies for the reply threads */
  int done_head;               /* written replies whose views JS may release */
  int reply_stop;
  pthread_t reply_threads[MAX_REPLY_THREADS];
  int reply_threads_wanted, reply_threads_started;
  int call_pending;   /* a batch call is scheduled and has not taken the queue yet */
  int closing;        /* the env is going away or close() ran: never call the tsfn again */
  int ended;          /* the session loop returned (the kernel connection is gone) */
  int closed;         /* close() ran: the libfuse session is destroyed */
  int loop_result;
  struct fuse_session *se;
  pthread_t loop_thread;
  int max_threads;
  napi_threadsafe_function tsfn;
  napi_env env;
  /* Negotiated at INIT (written by a loop thread, read under the lock). */
  int initialized;
  unsigned max_write, max_readahead, max_background, congestion_threshold;
  /* Counters for stats. */
  uint64_t requests, batches, largest_batch, slot_waits, read_replies;
  double reply_write_ns;
};

/* session.c */
extern const struct fuse_lowlevel_ops SESSION_OPS;
/* The last line libfuse logged (for error messages); every line also goes to stderr. */
extern char last_log[512];
void log_line(enum fuse_log_level level, const char *fmt, va_list ap);
/* Returns a slot to the free list; lock held. */
void free_slot(struct session *s, int i);
/* Schedules one batch call unless one is pending; lock held. */
void wake_js(struct session *s);
void *loop_main(void *arg);
void *reply_main(void *arg);
void stop_reply_threads(struct session *s);

#endif
