/* fs_poll.c - poll() on every file, with sysfs's semantics.
 *
 * Why: inotify never fires on FUSE for changes the daemon makes, so a watcher waits with
 * poll()/select() like on sysfs: it reads a file, polls it for POLLPRI|POLLERR, and after a
 * wake-up seeks to 0 and reads the new value (a read at offset 0 renders the file anew,
 * lib/tree_file.c). Every file is readable (POLLIN) at any time; POLLPRI|POLLERR says its
 * content changed since this handle last saw it. .domfs/events keeps /dev/kmsg's meaning:
 * POLLIN when a line is readable.
 *
 * "Changed" by kind: a snapshot file (page-cached) by its inode's generation, which the
 * notifier bumps when it invalidates the inode, so a poll can never report a change before
 * the stale pages are gone; statistics, .domfs/connection and metrics.prom by comparing
 * what a read at 0 would render with the last rendering; console.log by whether the guest
 * printed beyond what this handle read (checked every FS_POLL_CONSOLE_US while polled:
 * virtlogd's files give no event); events by a readable line.
 *
 * Wake-ups: the notifier after each invalidation (fs_poll_wake_ino; for a file with a
 * write in flight, once that write was answered: see ino_bump_gen), the statistics
 * thread after each fetch, the events streams after each line. A woken handle is
 * notified once and dropped; the kernel polls again, registering a new one.
 *
 * The pollers are indexed so that a wake-up costs what it wakes, not what is polled (a
 * watcher of 10000 `state` files): by inode for the notifier, and the few that are not
 * snapshot files apart for the event and statistics wake-ups.
 *
 * Locking: fs_poll_lock guards the three tables; taken before an FsFile's ph_lock. Nothing
 * that renders is called with either held. */
#define G_LOG_DOMAIN "domfs-fs"

#include <poll.h>

#include "fs_handle.h"
#include "fs_inode.h"

/* How often a polled console.log is looked at (virtlogd's files give no event). */
#define FS_POLL_CONSOLE_US (250 * G_TIME_SPAN_MILLISECOND)

static GMutex fs_poll_lock;        /* guards the three tables below */
static GHashTable *fs_pollers;     /* FsFile * (a reference) with a poll handle */
static GHashTable *fs_pollers_ino; /* inode -> GPtrArray of those FsFile * (borrowed) */
static GHashTable *fs_pollers_live;/* those that are not snapshot files (borrowed) */

/* ---- the tables (fs_poll_lock held) ---- */

static void
fs_poll_tables_add(FsFile *f)
{
    GPtrArray *list;

    if (!fs_pollers) {
        fs_pollers = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                           (GDestroyNotify)fs_file_unref, NULL);
        fs_pollers_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                               (GDestroyNotify)g_ptr_array_unref);
        fs_pollers_live = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_hash_table_add(fs_pollers, fs_file_ref(f));
    if (!(list = g_hash_table_lookup(fs_pollers_ino, &f->ino))) {
        list = g_ptr_array_new();
        g_hash_table_insert(fs_pollers_ino, g_memdup2(&f->ino, sizeof(gint64)), list);
    }
    g_ptr_array_add(list, f);
    if (tree_file_flavor(f->tf) != TF_SNAPSHOT)
        g_hash_table_add(fs_pollers_live, f);
}

static void
fs_poll_tables_remove(FsFile *f)
{
    GPtrArray *list;

    if (!fs_pollers || !g_hash_table_contains(fs_pollers, f))
        return;
    g_hash_table_remove(fs_pollers_live, f);
    if ((list = g_hash_table_lookup(fs_pollers_ino, &f->ino))) {
        g_ptr_array_remove_fast(list, f);
        if (list->len == 0)
            g_hash_table_remove(fs_pollers_ino, &f->ino);
    }
    g_hash_table_remove(fs_pollers, f);   /* drops the reference: last */
}

/* ---- what changed ---- */

/* Has F changed since its handle last saw it? CONSUME: it sees it now (a poll that
 * reports the change); only snapshot files keep that state here. */
static bool
fs_poll_changed(FsFile *f, bool consume)
{
    guint64 gen;
    bool changed;

    if (tree_file_flavor(f->tf) != TF_SNAPSHOT)
        return tree_file_changed(f->tf);
    gen = ino_gen(f->ino);
    g_mutex_lock(&f->ph_lock);
    changed = gen != f->gen_seen;
    if (changed && consume)
        f->gen_seen = gen;
    g_mutex_unlock(&f->ph_lock);
    return changed;
}

static unsigned
fs_poll_revents(FsFile *f)
{
    if (tree_file_is_events(f->tf))
        return tree_file_readable(f->tf) ? POLLIN | POLLRDNORM : 0;
    return POLLIN | POLLRDNORM | (fs_poll_changed(f, true) ? POLLPRI | POLLERR : 0);
}

/* ---- waking ---- */

/* F is no longer polled: out of the tables; its poll handle (or NULL) is the caller's. */
static struct fuse_pollhandle *
fs_poll_detach(FsFile *f)
{
    struct fuse_pollhandle *ph;

    g_mutex_lock(&fs_poll_lock);
    fs_poll_tables_remove(f);
    g_mutex_unlock(&fs_poll_lock);
    g_mutex_lock(&f->ph_lock);
    ph = g_steal_pointer(&f->ph);
    g_mutex_unlock(&f->ph_lock);
    return ph;
}

/* Wake F's poller: the kernel asks again (fs_poll), which tells what changed. */
static void
fs_poll_fire(FsFile *f)
{
    struct fuse_pollhandle *ph = fs_poll_detach(f);

    if (ph) {
        fuse_lowlevel_notify_poll(ph);
        fuse_pollhandle_destroy(ph);
    }
}

typedef bool (*FsPollPick)(FsFile *f, const void *arg);

/* The pollers of inode INO (PICK NULL), or the non-snapshot pollers PICK chooses: new
 * references, taken under the lock, judged outside it. */
static GPtrArray *
fs_poll_pick(FsPollPick pick, const void *arg, fuse_ino_t ino)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)fs_file_unref);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_poll_lock);
    GHashTableIter it;
    GPtrArray *list;
    gpointer k;

    if (!fs_pollers)
        return out;
    if (!pick) {
        gint64 key = (gint64)ino;

        if ((list = g_hash_table_lookup(fs_pollers_ino, &key))) {
            for (guint i = 0; i < list->len; i++)
                g_ptr_array_add(out, fs_file_ref(g_ptr_array_index(list, i)));
        }
        return out;
    }
    g_hash_table_iter_init(&it, fs_pollers_live);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (pick(k, arg))
            g_ptr_array_add(out, fs_file_ref(k));
    }
    return out;
}

/* Wake the pollers of inode INO (PICK NULL), or the live pollers PICK chooses, that
 * changed. */
static void
fs_poll_wake(FsPollPick pick, const void *arg, fuse_ino_t ino)
{
    g_autoptr(GPtrArray) list = fs_poll_pick(pick, arg, ino);

    for (guint i = 0; i < list->len; i++) {
        FsFile *f = g_ptr_array_index(list, i);

        if (tree_file_is_events(f->tf) ? tree_file_readable(f->tf)
                                       : fs_poll_changed(f, false))
            fs_poll_fire(f);
    }
}

void
fs_poll_wake_ino(fuse_ino_t ino)
{
    fs_poll_wake(NULL, NULL, ino);
}

/* Events readers, and what an event changes without invalidating an inode. */
static bool
fs_poll_pick_event(FsFile *f, const void *arg)
{
    TreeFlavor fl = tree_file_flavor(f->tf);

    return fl == TF_EVENTS || fl == TF_CONNECTION || fl == TF_METRICS;
}

void
fs_events_notify(void *opaque)
{
    fs_poll_wake(fs_poll_pick_event, NULL, 0);
}

static bool
fs_poll_pick_stats(FsFile *f, const void *arg)
{
    TreeFlavor fl = tree_file_flavor(f->tf);

    return fl == TF_METRICS || (fl == TF_STATS && f->tn.conn == *(const int *)arg);
}

void
fs_poll_stats_notify(int host, void *opaque)
{
    fs_poll_wake(fs_poll_pick_stats, &host, 0);
}

/* ---- console.log: looked at while polled ---- */

static void fs_poll_tick_arm(FsFile *f);

static void
fs_poll_tick(void *data, int result)
{
    FsFile *f = data;
    bool polled;

    g_mutex_lock(&f->ph_lock);
    polled = f->ph != NULL;
    g_mutex_unlock(&f->ph_lock);
    if (!polled)
        return;
    if (tree_file_changed(f->tf))
        fs_poll_fire(f);
    else
        fs_poll_tick_arm(f);
}

static void
fs_poll_tick_arm(FsFile *f)
{
    Completion *c = completion_new(fs_poll_tick, fs_file_ref(f),
                                   (GDestroyNotify)fs_file_unref);

    tree_complete_after(c, FS_POLL_CONSOLE_US, 0);
    completion_unref(c);
}

/* ---- the operation ---- */

/* Keep PH as F's poll handle (replacing an older one); TRUE when F was not polled. */
static bool
fs_poll_register(FsFile *f, struct fuse_pollhandle *ph)
{
    struct fuse_pollhandle *old;
    bool first;

    g_mutex_lock(&fs_poll_lock);
    first = !fs_pollers || !g_hash_table_contains(fs_pollers, f);
    if (first)
        fs_poll_tables_add(f);
    g_mutex_lock(&f->ph_lock);
    old = f->ph;
    f->ph = ph;
    g_mutex_unlock(&f->ph_lock);
    g_mutex_unlock(&fs_poll_lock);
    if (old)
        fuse_pollhandle_destroy(old);
    return first;
}

void
fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
        struct fuse_pollhandle *ph)
{
    g_autoptr(FsFile) f = fs_file_get(fi);
    unsigned revents;
    bool first = false;

    if (!f || !f->tf) {
        if (ph)
            fuse_pollhandle_destroy(ph);
        fuse_reply_poll(req, POLLIN | POLLERR);
        return;
    }
    /* registered first: a change from now on wakes it, even one before the answer */
    if (ph)
        first = fs_poll_register(f, ph);
    revents = fs_poll_revents(f);
    if (ph && first && tree_file_flavor(f->tf) == TF_CONSOLE)
        fs_poll_tick_arm(f);
    fuse_reply_poll(req, revents);
}

void
fs_poll_forget(FsFile *f)
{
    struct fuse_pollhandle *ph = fs_poll_detach(f);

    if (ph)
        fuse_pollhandle_destroy(ph);
}

void
fs_poll_free(void)
{
    g_mutex_lock(&fs_poll_lock);
    g_clear_pointer(&fs_pollers_live, g_hash_table_destroy);
    g_clear_pointer(&fs_pollers_ino, g_hash_table_destroy);
    g_clear_pointer(&fs_pollers, g_hash_table_destroy);
    g_mutex_unlock(&fs_poll_lock);
}
