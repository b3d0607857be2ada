/*
 * The Node-API side of the addon: batches handed to JavaScript through the thread-safe
 * function, the reply functions JavaScript answers requests with, and mount, unmount, close
 * and info. Everything here runs on the JS thread except the unmount's umount2 (libuv's
 * thread pool). See session.h for the design.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "session.h"

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
  s->se = fuse_session_new(&args, &SESSION_OPS, sizeof SESSION_OPS, s);
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
  int in_flight = 0;
  for (int i = 0; i < SLOTS; i++) in_flight += s->slots[i].state != SLOT_FREE;
  double values[] = {s->initialized, s->max_write, s->max_readahead, s->max_background, s->congestion_threshold,
                     (double)s->requests, (double)s->batches, (double)s->largest_batch, (double)s->slot_waits, s->ended,
                     (double)s->read_replies, s->reply_write_ns / 1000, in_flight};
  pthread_mutex_unlock(&s->lock);
  const char *keys[] = {"initialized", "maxWrite", "maxReadahead", "maxBackground", "congestionThreshold",
                        "requests", "batches", "largestBatch", "slotWaits", "ended", "readReplies", "replyWriteUs", "inFlight"};
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
