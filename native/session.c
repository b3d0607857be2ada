/*
 * The libfuse side of the addon: libfuse's log, the queue of request slots, libfuse's
 * callbacks (each only queues; they run on the session loop's threads), the loop thread and
 * the reply threads that write read replies. See session.h for the design.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "session.h"

/* ---- libfuse's log: the last line is kept for error messages, everything goes to stderr. */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
char last_log[512];

void log_line(enum fuse_log_level level, const char *fmt, va_list ap) {
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
void free_slot(struct session *s, int i) {
  s->slots[i].state = SLOT_FREE;
  s->slots[i].req = NULL;
  s->slots[i].next = s->free_head;
  s->free_head = i;
  pthread_cond_signal(&s->slot_freed);
}

/* Schedules one batch call unless one is pending. Lock held. */
void wake_js(struct session *s) {
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

const struct fuse_lowlevel_ops SESSION_OPS = {
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

void *loop_main(void *arg) {
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

void *reply_main(void *arg) {
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

/* Lets the reply threads finish what is queued, and joins them. */
void stop_reply_threads(struct session *s) {
  pthread_mutex_lock(&s->lock);
  s->reply_stop = 1;
  pthread_cond_broadcast(&s->reply_ready);
  pthread_mutex_unlock(&s->lock);
  for (int i = 0; i < s->reply_threads_started; i++) pthread_join(s->reply_threads[i], NULL);
  s->reply_threads_started = 0;
}
