/*
 * The libfuse 3 binding of `sluice mount`: a Node-API addon over libfuse's low-level API.
 *
 * Why it exists: fuse-native binds libfuse 2, whose requests are capped at 128 KiB and whose
 * every request holds a libfuse thread until JavaScript answers it. libfuse 3 negotiates
 * 1 MiB requests with the kernel, and its low-level API lets a request be answered after its
 * callback returned, from any thread. This file is built on that:
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
#define FUSE_USE_VERSION 312
#define NAPI_VERSION 8

#include <errno.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

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

/* ---- libfuse's log: the last line is kept for error messages, everything goes to stderr. */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[512];

static void log_line(enum fuse_log_level level, const char *fmt, va_list ap) {
  (void)level;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
  pthread_mutex_lock(&log_lock);
  memcpy(last_log, line, n + 1);
  pthread_mutex_unlock(&log_lock);
  fprintf(stderr, "%s\n", line);
}

/* ---- The queue, filled by loop threads. */

/* Takes a free slot, waiting while none is; -1 when the session is ending. Lock held. */
static int take_slot(struct session *s) {
  while (s->free_head < 0) {
    if (s->closing || fuse_session_exited(s->se)) return -1;
    s->slot_waits++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->slot_freed, &s->lock, &until);
  }
  int i = s->free_head;
  s->free_head = s->slots[i].next;
  return i;
}

/* Returns a slot to the free list. Lock held. */
static void free_slot(struct session *s, int i) {
  s->slots[i].state = SLOT_FREE;
  s->slots[i].req = NULL;
  s->slots[i].next = s->free_head;
  s->free_head = i;
  pthread_cond_signal(&s->slot_freed);
}

/* Schedules one batch call unless one is pending. Lock held. */
static void wake_js(struct session *s) {
  if (s->call_pending || s->closing) return;
  s->call_pending = 1;
  napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

/*
 * Queues a request for JavaScript. A request that finds the session ending is answered EIO
 * here (or dropped, for a forget). `req` stays owned by the slot until a reply function
 * takes it; forgets are answered (fuse_reply_none) by their caller, the slot only carries
 * the count to JavaScript.
 */
static void enqueue(struct session *s, fuse_req_t req, uint8_t op, fuse_ino_t ino, uint64_t fh,
                    uint64_t offset, uint64_t count, uint32_t size, uint32_t flags, const char *name) {
  pthread_mutex_lock(&s->lock);
  int i = take_slot(s);
  if (i < 0) {
    pthread_mutex_unlock(&s->lock);
    if (req != NULL) fuse_reply_err(req, EIO);
    return;
  }
  struct slot *slot = &s->slots[i];
  slot->gen++;
  slot->state = SLOT_QUEUED;
  slot->op = op;
  slot->req = req;
  slot->ino = ino;
  slot->fh = fh;
  slot->offset = offset;
  slot->count = count;
  slot->size = size;
  slot->flags = flags;
  slot->name[0] = '\0';
  if (name != NULL) {
    strncpy(slot->name, name, NAME_BYTES - 1);
    slot->name[NAME_BYTES - 1] = '\0';
  }
  slot->next = -1;
  if (s->queue_tail < 0) s->queue_head = i;
  else s->slots[s->queue_tail].next = i;
  s->queue_tail = i;
  s->requests++;
  wake_js(s);
  pthread_mutex_unlock(&s->lock);
}

#define SESSION(req) ((struct session *)fuse_req_userdata(req))

/* ---- libfuse's callbacks: each only queues (they run on the loop's threads). */

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  struct session *s = userdata;
  /* Page-cache reuse is decided at open (keep_cache, from the version's mtime and size):
     auto_inval_data would add a GETATTR round trip to reads once attributes expire. */
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  /* Read-ahead requests the kernel keeps in flight (mountpoint-s3 and JuiceFS use ~64). */
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  pthread_mutex_lock(&s->lock);
  s->initialized = 1;
  s->max_write = conn->max_write;
  s->max_readahead = conn->max_readahead;
  s->max_background = conn->max_background;
  s->congestion_threshold = conn->congestion_threshold;
  pthread_mutex_unlock(&s->lock);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  enqueue(SESSION(req), req, OP_LOOKUP, parent, 0, 0, 0, 0, 0, name);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  enqueue(SESSION(req), NULL, OP_FORGET, ino, 0, 0, nlookup, 0, 0, NULL);
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++) enqueue(SESSION(req), NULL, OP_FORGET, forgets[i].ino, 0, 0, forgets[i].nlookup, 0, 0, NULL);
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_GETATTR, ino, fi != NULL ? fi->fh : 0, 0, 0, 0, 0, NULL);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_OPEN, ino, 0, 0, 0, 0, (uint32_t)fi->flags, NULL);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_READ, ino, fi->fh, (uint64_t)off, 0, (uint32_t)size, 0, NULL);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_RELEASE, ino, fi->fh, 0, 0, 0, 0, NULL);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_OPENDIR, ino, 0, 0, 0, 0, (uint32_t)fi->flags, NULL);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_READDIR, ino, fi->fh, (uint64_t)off, 0, (uint32_t)size, 0, NULL);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  enqueue(SESSION(req), req, OP_RELEASEDIR, ino, fi->fh, 0, 0, 0, 0, NULL);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  enqueue(SESSION(req), req, OP_STATFS, ino, 0, 0, 0, 0, 0, NULL);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  enqueue(SESSION(req), req, OP_ACCESS, ino, 0, 0, 0, 0, (uint32_t)mask, NULL);
}

/* Everything that would change the tree reaches JavaScript as a refusal naming the
   operation (the mount is `ro`, so the kernel usually refuses first). */
static void refuse(fuse_req_t req, fuse_ino_t ino, const char *what) {
  enqueue(SESSION(req), req, OP_REFUSE, ino, 0, 0, 0, 0, 0, what);
}
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int set, struct fuse_file_info *fi) {
  (void)a, (void)set, (void)fi;
  refuse(req, ino, "setattr");
}
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  (void)name, (void)mode, (void)rdev;
  refuse(req, parent, "mknod");
}
static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  (void)name, (void)mode;
  refuse(req, parent, "mkdir");
}
static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  (void)name;
  refuse(req, parent, "unlink");
}
static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  (void)name;
  refuse(req, parent, "rmdir");
}
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  (void)link, (void)name;
  refuse(req, parent, "symlink");
}
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t np, const char *nn, unsigned int flags) {
  (void)name, (void)np, (void)nn, (void)flags;
  refuse(req, parent, "rename");
}
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np, const char *nn) {
  (void)np, (void)nn;
  refuse(req, ino, "link");
}
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)buf, (void)size, (void)off, (void)fi;
  refuse(req, ino, "write");
}
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  (void)name, (void)mode, (void)fi;
  refuse(req, parent, "create");
}
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  (void)name, (void)value, (void)size, (void)flags;
  refuse(req, ino, "setxattr");
}
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  (void)name;
  refuse(req, ino, "removexattr");
}

static const struct fuse_lowlevel_ops OPS = {
  .init = op_init,
  .lookup = op_lookup,
  .forget = op_forget,
  .forget_multi = op_forget_multi,
  .getattr = op_getattr,
  .open = op_open,
  .read = op_read,
  .release = op_release,
  .opendir = op_opendir,
  .readdir = op_readdir,
  .releasedir = op_releasedir,
  .statfs = op_statfs,
  .access = op_access,
  .setattr = op_setattr,
  .mknod = op_mknod,
  .mkdir = op_mkdir,
  .unlink = op_unlink,
  .rmdir = op_rmdir,
  .symlink = op_symlink,
  .rename = op_rename,
  .link = op_link,
  .write = op_write,
  .create = op_create,
  .setxattr = op_setxattr,
  .removexattr = op_removexattr,
};

/* ---- The session loop, on a thread of its own (its workers inherit its blocked signals). */

static void *loop_main(void *arg) {
  struct session *s = arg;
  struct fuse_loop_config *config = fuse_loop_cfg_create();
  int result = ENOMEM;
  if (config != NULL) {
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, (unsigned)s->max_threads);
    result = fuse_session_loop_mt(s->se, config);
    fuse_loop_cfg_destroy(config);
  }
  pthread_mutex_lock(&s->lock);
  s->ended = 1;
  s->loop_result = result;
  wake_js(s);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- Reply threads: write read replies, the copy into the kernel's pages. */

static void *reply_main(void *arg) {
  struct session *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (s->reply_head < 0 && !s->reply_stop) pthread_cond_wait(&s->reply_ready, &s->lock);
    if (s->reply_head < 0) break;
    int i = s->reply_head;
    struct slot *slot = &s->slots[i];
    s->reply_head = slot->next;
    if (s->reply_head < 0) s->reply_tail = -1;
    fuse_req_t req = slot->req;
    slot->req = NULL;
    int ended = s->ended;
    pthread_mutex_unlock(&s->lock);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* After the loop ended the connection is gone: free the request, write nothing. */
    if (ended) fuse_reply_none(req);
    else fuse_reply_iov(req, slot->iov, slot->iovcnt);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_mutex_lock(&s->lock);
    s->reply_write_ns += (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    s->read_replies++;
    slot->state = SLOT_REPLIED;
    slot->next = s->done_head;
    s->done_head = i;
    wake_js(s);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

static napi_value num(napi_env env, double value);

/* Drops the references of written replies and frees their slots (JS thread); returns an
   array of their ids when `written` is set. */
static void drain_done(napi_env env, struct session *s, napi_value *written) {
  pthread_mutex_lock(&s->lock);
  int head = s->done_head;
  s->done_head = -1;
  pthread_mutex_unlock(&s->lock);
  uint32_t n = 0;
  for (int i = head; i >= 0; i = s->slots[i].next) n++;
  if (written != NULL) napi_create_array_with_length(env, n, written);
  if (head < 0) return;
  n = 0;
  for (int i = head; i >= 0; i = s->slots[i].next) {
    napi_delete_reference(env, s->slots[i].views);
    s->slots[i].views = NULL;
    if (written != NULL) napi_set_element(env, *written, n++, num(env, (double)s->slots[i].gen * SLOTS + i));
  }
  pthread_mutex_lock(&s->lock);
  for (int i = head; i >= 0;) {
    int next = s->slots[i].next;
    free_slot(s, i);
    i = next;
  }
  pthread_mutex_unlock(&s->lock);
}

/* ---- Batches to JavaScript (on the JS thread). */

static napi_value num(napi_env env, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  return v;
}

static void set(napi_env env, napi_value obj, const char *key, napi_value value) {
  napi_set_named_property(env, obj, key, value);
}

/*
 * Takes everything queued and calls the JS callback once: (batch, ended, written). Each
 * request is { id, op, ino, fh, offset, count, size, flags, name }; forgets have no id and
 * their slot is freed here, since nothing answers them. `written` are the ids of reads
 * whose replies have been written since the last call.
 */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)data;
  struct session *s = context;
  if (env == NULL) return;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value written;
  drain_done(env, s, &written);
  pthread_mutex_lock(&s->lock);
  int head = s->queue_head;
  s->queue_head = s->queue_tail = -1;
  s->call_pending = 0;
  int ended = s->ended;
  uint32_t n = 0;
  for (int i = head; i >= 0; i = s->slots[i].next) {
    s->slots[i].state = SLOT_WITH_JS;
    n++;
  }
  if (n > 0) s->batches++;
  if (n > s->largest_batch) s->largest_batch = n;
  pthread_mutex_unlock(&s->lock);

  napi_value batch;
  napi_create_array_with_length(env, n, &batch);
  uint32_t k = 0;
  for (int i = head; i >= 0;) {
    struct slot *slot = &s->slots[i];
    int next = slot->next;
    napi_value r;
    napi_create_object(env, &r);
    if (slot->req != NULL) set(env, r, "id", num(env, (double)slot->gen * SLOTS + i));
    set(env, r, "op", num(env, slot->op));
    set(env, r, "ino", num(env, (double)slot->ino));
    if (slot->fh) set(env, r, "fh", num(env, (double)slot->fh));
    if (slot->offset) set(env, r, "offset", num(env, (double)slot->offset));
    if (slot->count) set(env, r, "count", num(env, (double)slot->count));
    if (slot->size) set(env, r, "size", num(env, slot->size));
    if (slot->flags) set(env, r, "flags", num(env, slot->flags));
    if (slot->name[0] != '\0') {
      napi_value name;
      napi_create_string_utf8(env, slot->name, NAPI_AUTO_LENGTH, &name);
      set(env, r, "name", name);
    }
    napi_set_element(env, batch, k++, r);
    if (slot->req == NULL) {
      pthread_mutex_lock(&s->lock);
      free_slot(s, i);
      pthread_mutex_unlock(&s->lock);
    }
    i = next;
  }
  napi_value undefined, flag, args[3];
  napi_get_undefined(env, &undefined);
  napi_get_boolean(env, ended, &flag);
  args[0] = batch;
  args[1] = flag;
  args[2] = written;
  napi_call_function(env, undefined, callback, 3, args, NULL);
  napi_close_handle_scope(env, scope);
}

/* ---- Exported functions. */

#define THROW(env, msg) do { napi_throw_error(env, "ERR_SLUICE_FUSE3", msg); return NULL; } while (0)
#define ARGS(n) \
  size_t argc = n; napi_value argv[n]; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) THROW(env, "missing arguments")

static struct session *session_of(napi_env env, napi_value value) {
  void *s = NULL;
  if (napi_get_value_external(env, value, &s) != napi_ok) return NULL;
  return s;
}

static double get_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

/* Env teardown (process exit) with the mount still up: stop calling into JS; the kernel
   closes the connection when the process's /dev/fuse descriptor goes. */
static void cleanup_hook(void *arg) {
  struct session *s = arg;
  pthread_mutex_lock(&s->lock);
  s->closing = 1;
  pthread_mutex_unlock(&s->lock);
}

/* The session's memory outlives close() until JS drops it; never before close(), since a
   loop thread may still hold it. */
static void session_finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  struct session *s = data;
  if (!s->closed) return;
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->slot_freed);
  pthread_cond_destroy(&s->reply_ready);
  free(s);
}

/* Lets the reply threads finish what is queued, and joins them. */
static void stop_reply_threads(struct session *s) {
  pthread_mutex_lock(&s->lock);
  s->reply_stop = 1;
  pthread_cond_broadcast(&s->reply_ready);
  pthread_mutex_unlock(&s->lock);
  for (int i = 0; i < s->reply_threads_started; i++) pthread_join(s->reply_threads[i], NULL);
  s->reply_threads_started = 0;
}

/* mount(mountpoint, options, onBatch, loopThreads, replyThreads) -> session. `options` are
   libfuse's (e.g. ['-o', 'ro,default_permissions']). Mounts, then starts the threads. */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  char mountpoint[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], mountpoint, sizeof mountpoint, &len) != napi_ok || len >= sizeof mountpoint - 1)
    THROW(env, "mountpoint must be a string shorter than 4096 bytes");
  uint32_t nopts = 0;
  napi_get_array_length(env, argv[1], &nopts);
  if (nopts > 16) THROW(env, "too many options");
  char *fargv[18];
  char storage[17][1024];
  fargv[0] = "sluice";
  for (uint32_t i = 0; i < nopts; i++) {
    napi_value el;
    napi_get_element(env, argv[1], i, &el);
    if (napi_get_value_string_utf8(env, el, storage[i], sizeof storage[i], &len) != napi_ok) THROW(env, "options must be strings");
    fargv[i + 1] = storage[i];
  }
  fargv[nopts + 1] = NULL;

  struct session *s = calloc(1, sizeof *s);
  if (s == NULL) THROW(env, "out of memory");
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->slot_freed, NULL);
  pthread_cond_init(&s->reply_ready, NULL);
  for (int i = 0; i < SLOTS; i++) s->slots[i].next = i + 1 < SLOTS ? i + 1 : -1;
  s->free_head = 0;
  s->queue_head = s->queue_tail = -1;
  s->reply_head = s->reply_tail = s->done_head = -1;
  s->max_threads = (int)get_num(env, argv[3]);
  if (s->max_threads < 1) s->max_threads = 1;
  s->reply_threads_wanted = (int)get_num(env, argv[4]);
  if (s->reply_threads_wanted < 1) s->reply_threads_wanted = 1;
  if (s->reply_threads_wanted > MAX_REPLY_THREADS) s->reply_threads_wanted = MAX_REPLY_THREADS;
  s->env = env;

  char message[700];
  last_log[0] = '\0';
  struct fuse_args args = FUSE_ARGS_INIT((int)nopts + 1, fargv);
  s->se = fuse_session_new(&args, &OPS, sizeof OPS, s);
  fuse_opt_free_args(&args);
  if (s->se == NULL) {
    snprintf(message, sizeof message, "libfuse rejected the session options: %s", last_log);
    goto fail;
  }
  napi_value name;
  napi_create_string_utf8(env, "sluice-fuse3", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn) != napi_ok) {
    snprintf(message, sizeof message, "cannot create the thread-safe function");
    goto fail;
  }
  if (fuse_session_mount(s->se, mountpoint) != 0) {
    snprintf(message, sizeof message, "mount failed: %s", last_log[0] ? last_log : "libfuse gave no reason");
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    goto fail;
  }
  /* Block every signal while our threads are created, so they (and the workers the loop
     starts) leave signals to Node's thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int err = 0;
  for (; s->reply_threads_started < s->reply_threads_wanted && err == 0; s->reply_threads_started++)
    err = pthread_create(&s->reply_threads[s->reply_threads_started], NULL, reply_main, s);
  if (err == 0) err = pthread_create(&s->loop_thread, NULL, loop_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    stop_reply_threads(s);
    fuse_session_unmount(s->se);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    snprintf(message, sizeof message, "cannot start the session threads: %s", strerror(err));
    goto fail;
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  napi_value external;
  napi_create_external(env, s, session_finalize, NULL, &external);
  return external;

fail:
  if (s->se != NULL) fuse_session_destroy(s->se);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->slot_freed);
  pthread_cond_destroy(&s->reply_ready);
  free(s);
  THROW(env, message);
}

/*
 * Takes the request behind `id` out of its slot (freeing the slot), or NULL when the id is
 * stale or the session closed. A request whose session loop has ended is freed without an
 * answer: the connection is gone.
 */
static fuse_req_t claim(struct session *s, double id) {
  if (s == NULL || !(id >= 0)) return NULL;
  int index = (int)((uint64_t)id % SLOTS);
  uint32_t gen = (uint32_t)((uint64_t)id / SLOTS);
  fuse_req_t req = NULL;
  pthread_mutex_lock(&s->lock);
  struct slot *slot = &s->slots[index];
  if (!s->closed && slot->state == SLOT_WITH_JS && slot->gen == gen && slot->req != NULL) {
    req = slot->req;
    free_slot(s, index);
    if (s->ended) {
      fuse_reply_none(req);
      req = NULL;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return req;
}

static napi_value result(napi_env env, int ok) {
  napi_value v;
  napi_get_boolean(env, ok, &v);
  return v;
}

/* replyErr(session, id, errno): errno positive, 0 for success without data. */
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  ARGS(3);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  fuse_reply_err(req, (int)get_num(env, argv[2]));
  return result(env, 1);
}

/* Attributes as JS passes them: [ino, mode, nlink, uid, gid, size, blksize, blocks, atimeMs, mtimeMs, ctimeMs]. */
static void read_stat(napi_env env, napi_value array, struct stat *st) {
  double f[11] = {0};
  for (uint32_t i = 0; i < 11; i++) {
    napi_value el;
    if (napi_get_element(env, array, i, &el) == napi_ok) f[i] = get_num(env, el);
  }
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)f[0];
  st->st_mode = (mode_t)f[1];
  st->st_nlink = (nlink_t)f[2];
  st->st_uid = (uid_t)f[3];
  st->st_gid = (gid_t)f[4];
  st->st_size = (off_t)f[5];
  st->st_blksize = (blksize_t)f[6];
  st->st_blocks = (blkcnt_t)f[7];
  struct timespec *times[3] = {&st->st_atim, &st->st_mtim, &st->st_ctim};
  for (int i = 0; i < 3; i++) {
    double ms = f[8 + i];
    times[i]->tv_sec = (time_t)(ms / 1000);
    times[i]->tv_nsec = (long)((ms - (double)times[i]->tv_sec * 1000) * 1e6);
  }
}

/* replyEntry(session, id, attr | null, attrTimeoutS, entryTimeoutS): null is a negative
   entry the kernel may cache for entryTimeoutS. */
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  ARGS(5);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  napi_valuetype type;
  napi_typeof(env, argv[2], &type);
  if (type == napi_object) {
    read_stat(env, argv[2], &e.attr);
    e.ino = e.attr.st_ino;
  }
  e.attr_timeout = get_num(env, argv[3]);
  e.entry_timeout = get_num(env, argv[4]);
  fuse_reply_entry(req, &e);
  return result(env, 1);
}

/* replyAttr(session, id, attr, attrTimeoutS) */
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  ARGS(4);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  struct stat st;
  read_stat(env, argv[2], &st);
  fuse_reply_attr(req, &st, get_num(env, argv[3]));
  return result(env, 1);
}

/* replyOpen(session, id, fh, keepCache) */
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  ARGS(4);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)get_num(env, argv[2]);
  bool keep = false;
  napi_get_value_bool(env, argv[3], &keep);
  fi.keep_cache = keep ? 1 : 0;
  if (fuse_reply_open(req, &fi) == -ENOENT) {
    /* The opener was interrupted: no release will come for this handle; JS's release
       bookkeeping is told by the false result. */
    return result(env, 0);
  }
  return result(env, 1);
}

/*
 * replyRead(session, id, views): the views' bytes, in order, straight from their memory.
 * The write is queued for a reply thread; a reference holds the views until it is done.
 */
static napi_value js_reply_read(napi_env env, napi_callback_info info) {
  ARGS(3);
  struct session *s = session_of(env, argv[0]);
  double id = get_num(env, argv[1]);
  if (s == NULL || !(id >= 0)) return result(env, 0);
  int index = (int)((uint64_t)id % SLOTS);
  uint32_t gen = (uint32_t)((uint64_t)id / SLOTS);
  struct slot *slot = &s->slots[index];
  pthread_mutex_lock(&s->lock);
  int valid = !s->closed && !s->ended && slot->state == SLOT_WITH_JS && slot->gen == gen && slot->req != NULL;
  pthread_mutex_unlock(&s->lock);
  /* Stale, or the connection is gone: claim() frees what needs freeing. */
  if (!valid) {
    fuse_req_t req = claim(s, id);
    if (req != NULL) fuse_reply_err(req, EIO);
    return result(env, 0);
  }
  /* A WITH_JS slot belongs to the JS thread: filled without the lock. */
  uint32_t n = 0;
  napi_get_array_length(env, argv[2], &n);
  int ok = n <= MAX_IOV;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value view;
    napi_typedarray_type type;
    size_t length = 0;
    void *data = NULL;
    napi_get_element(env, argv[2], i, &view);
    ok = napi_get_typedarray_info(env, view, &type, &length, &data, NULL, NULL) == napi_ok && type == napi_uint8_array;
    slot->iov[i].iov_base = data;
    slot->iov[i].iov_len = length;
  }
  if (!ok || napi_create_reference(env, argv[2], 1, &slot->views) != napi_ok) {
    fuse_req_t req = claim(s, id);
    if (req != NULL) fuse_reply_err(req, EIO);
    return result(env, 0);
  }
  slot->iovcnt = (int)n;
  pthread_mutex_lock(&s->lock);
  slot->state = SLOT_REPLYING;
  slot->next = -1;
  if (s->reply_tail < 0) s->reply_head = index;
  else s->slots[s->reply_tail].next = index;
  s->reply_tail = index;
  pthread_cond_signal(&s->reply_ready);
  pthread_mutex_unlock(&s->lock);
  return result(env, 1);
}

/* replyDir(session, id, size, offset, names, inos, modes): the entries from index `offset`
   that fit in `size` bytes; an entry's offset is its index + 1. */
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  ARGS(7);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  size_t size = (size_t)get_num(env, argv[2]);
  uint32_t from = (uint32_t)get_num(env, argv[3]), count = 0;
  napi_get_array_length(env, argv[4], &count);
  char *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) {
    fuse_reply_err(req, ENOMEM);
    return result(env, 0);
  }
  size_t used = 0;
  for (uint32_t i = from; i < count; i++) {
    napi_value el;
    char name[1024];
    size_t len = 0;
    napi_get_element(env, argv[4], i, &el);
    if (napi_get_value_string_utf8(env, el, name, sizeof name, &len) != napi_ok) break;
    struct stat st;
    memset(&st, 0, sizeof st);
    napi_get_element(env, argv[5], i, &el);
    st.st_ino = (ino_t)get_num(env, el);
    napi_get_element(env, argv[6], i, &el);
    st.st_mode = (mode_t)get_num(env, el);
    size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf, used);
  free(buf);
  return result(env, 1);
}

/* replyStatfs(session, id, [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax]) */
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  ARGS(3);
  fuse_req_t req = claim(session_of(env, argv[0]), get_num(env, argv[1]));
  if (req == NULL) return result(env, 0);
  double f[11] = {0};
  for (uint32_t i = 0; i < 11; i++) {
    napi_value el;
    if (napi_get_element(env, argv[2], i, &el) == napi_ok) f[i] = get_num(env, el);
  }
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = (unsigned long)f[0];
  st.f_frsize = (unsigned long)f[1];
  st.f_blocks = (fsblkcnt_t)f[2];
  st.f_bfree = (fsblkcnt_t)f[3];
  st.f_bavail = (fsblkcnt_t)f[4];
  st.f_files = (fsfilcnt_t)f[5];
  st.f_ffree = (fsfilcnt_t)f[6];
  st.f_favail = (fsfilcnt_t)f[7];
  st.f_fsid = (unsigned long)f[8];
  st.f_flag = (unsigned long)f[9];
  st.f_namemax = (unsigned long)f[10];
  fuse_reply_statfs(req, &st);
  return result(env, 1);
}

/* ref(session, keepAlive): whether the mount keeps the process alive (it does while mounted). */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  ARGS(2);
  struct session *s = session_of(env, argv[0]);
  bool keep = false;
  napi_get_value_bool(env, argv[1], &keep);
  if (s == NULL || s->closed) return NULL;
  if (keep) napi_ref_threadsafe_function(env, s->tsfn);
  else napi_unref_threadsafe_function(env, s->tsfn);
  return NULL;
}

/* close(session): after the loop ended (the batch callback said so). Frees what JS never
   answered, destroys the libfuse session and releases the thread-safe function. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct session *s = session_of(env, argv[0]);
  if (s == NULL) THROW(env, "not a session");
  if (s->closed) return NULL;
  pthread_mutex_lock(&s->lock);
  int ended = s->ended;
  pthread_mutex_unlock(&s->lock);
  if (!ended) THROW(env, "the session loop is still running (unmount first)");
  pthread_join(s->loop_thread, NULL);
  /* The reply threads free what is still queued (the loop ended: nothing is written). */
  stop_reply_threads(s);
  drain_done(env, s, NULL);
  pthread_mutex_lock(&s->lock);
  s->closed = 1;
  s->closing = 1;
  for (int i = 0; i < SLOTS; i++) {
    if (s->slots[i].state == SLOT_FREE) continue;
    if (s->slots[i].req != NULL) fuse_reply_none(s->slots[i].req);
    free_slot(s, i);
  }
  pthread_mutex_unlock(&s->lock);
  fuse_session_destroy(s->se);
  s->se = NULL;
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  napi_remove_env_cleanup_hook(env, cleanup_hook, s);
  return NULL;
}

/* info(session): what INIT negotiated and how requests arrived. */
static napi_value js_info(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct session *s = session_of(env, argv[0]);
  if (s == NULL) THROW(env, "not a session");
  napi_value out;
  napi_create_object(env, &out);
  pthread_mutex_lock(&s->lock);
  double values[] = {s->initialized, s->max_write, s->max_readahead, s->max_background, s->congestion_threshold,
                     (double)s->requests, (double)s->batches, (double)s->largest_batch, (double)s->slot_waits, s->ended,
                     (double)s->read_replies, s->reply_write_ns / 1000};
  pthread_mutex_unlock(&s->lock);
  const char *keys[] = {"initialized", "maxWrite", "maxReadahead", "maxBackground", "congestionThreshold",
                        "requests", "batches", "largestBatch", "slotWaits", "ended", "readReplies", "replyWriteUs"};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) set(env, out, keys[i], num(env, values[i]));
  return out;
}

/* ---- unmount(mountpoint, callback(errno)): a lazy umount2 on libuv's thread pool (root). */

struct unmount_work {
  napi_async_work work;
  napi_ref callback;
  char mountpoint[4096];
  int err;
};

static void unmount_execute(napi_env env, void *data) {
  (void)env;
  struct unmount_work *w = data;
  w->err = umount2(w->mountpoint, MNT_DETACH) == 0 ? 0 : errno;
}

static void unmount_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  struct unmount_work *w = data;
  napi_value callback, undefined, arg;
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_undefined(env, &undefined);
  arg = num(env, w->err);
  napi_call_function(env, undefined, callback, 1, &arg, NULL);
  napi_delete_reference(env, w->callback);
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value js_unmount(napi_env env, napi_callback_info info) {
  ARGS(2);
  struct unmount_work *w = calloc(1, sizeof *w);
  if (w == NULL) THROW(env, "out of memory");
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[0], w->mountpoint, sizeof w->mountpoint, &len);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_value name;
  napi_create_string_utf8(env, "sluice-fuse3-unmount", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, unmount_execute, unmount_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return NULL;
}

/* ---- Module. */

static napi_value init(napi_env env, napi_value exports) {
  fuse_set_log_func(log_line);
  napi_property_descriptor fns[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
    {"replyErr", NULL, js_reply_err, NULL, NULL, NULL, napi_default, NULL},
    {"replyEntry", NULL, js_reply_entry, NULL, NULL, NULL, napi_default, NULL},
    {"replyAttr", NULL, js_reply_attr, NULL, NULL, NULL, napi_default, NULL},
    {"replyOpen", NULL, js_reply_open, NULL, NULL, NULL, napi_default, NULL},
    {"replyRead", NULL, js_reply_read, NULL, NULL, NULL, napi_default, NULL},
    {"replyDir", NULL, js_reply_dir, NULL, NULL, NULL, napi_default, NULL},
    {"replyStatfs", NULL, js_reply_statfs, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value ops;
  napi_create_object(env, &ops);
  const char *names[] = {NULL, "forget", "lookup", "getattr", "open", "read", "release",
                         "opendir", "readdir", "releasedir", "statfs", "access", "refuse"};
  for (int i = OP_FORGET; i <= OP_REFUSE; i++) set(env, ops, names[i], num(env, i));
  set(env, exports, "ops", ops);
  napi_value version;
  napi_create_string_utf8(env, fuse_pkgversion(), NAPI_AUTO_LENGTH, &version);
  set(env, exports, "libfuseVersion", version);
  set(env, exports, "slots", num(env, SLOTS));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
