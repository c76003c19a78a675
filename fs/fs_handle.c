/* fs_handle.c - see fs_handle.h.
 *
 * Open files by handle: the kernel has been seen (6.x, page-cache readahead) to send a
 * RELEASE while a READ of the same handle is still being answered; handles are therefore
 * reference-counted and looked up in a table, so a late READ finds nothing (EBADF)
 * instead of freed memory.
 *
 * Handles outlive the process (fs_takeover.h): a handle is a number, never reused, kept
 * in the store (fs_istore.h) with what reopening it takes: the node, the open flags, the
 * opener's uid, the guest it is bound to and the tree's own state of the file (where a
 * console.log handle stands), put before the reply that gives the handle to the kernel
 * and again before a read's reply whenever that state moved. The next process reopens
 * them all at start (fs_files_restore): a console.log handle goes on with the same bytes
 * at the same offsets; an events reader gets one line "<time> .domfs takeover crash" (or
 * "upgrade": lines of the gap may be missing; the files are what is true) and then the
 * new process's stream; any other file is rendered again. A handle whose guest went away
 * meanwhile answers ENOENT.
 *
 * Locking: fs_files_lock guards the two tables; an FsFile's ph_lock and state_lock are
 * leaves, taken after it (ph_lock) or alone (state_lock). */
#define G_LOG_DOMAIN "domfs-fs"

#include "fs_handle.h"

#include <errno.h>
#include <string.h>

#include "fs_inode.h"
#include "fs_takeover.h"

/* A handle's record in the store (fixed-width: a newer binary reads it), followed by
 * state_len bytes of the tree's state of the file. */
#define FS_HREC_MAGIC 0x31486664u   /* "dfH1" */
#define FS_HREC_FILE 1u
#define FS_HREC_DIR 2u
/* A restored handle tries to reopen this often while its guest's XML loads. */
#define FS_RESTORE_TRIES 3

typedef struct {
    uint32_t magic;
    uint16_t kind;          /* FS_HREC_* */
    uint16_t state_len;
    uint64_t ino;
    int32_t flags;          /* open(2) flags */
    uint32_t uid;
    uint32_t cached;
    uint32_t reserved;
    char uuid[40];          /* the guest the handle is bound to ("" above guests) */
} FsHandleRec;

G_STATIC_ASSERT(sizeof(FsHandleRec) + TREE_FILE_STATE_MAX <= ISTORE_HANDLE_DATA_MAX);


typedef struct {
    uint64_t fh;
    fuse_ino_t ino;
    GPtrArray *list;      /* TreeDirent * */
} FsDir;

static GMutex fs_files_lock;     /* guards the two tables */
static GHashTable *fs_files;     /* &fh -> FsFile (the table's references) */
static GHashTable *fs_dirs;      /* &fh -> FsDir */
static guint64 fs_next_fh = 1;   /* atomic; above every handle an earlier process gave */

static void
fs_file_clear(gpointer p)
{
    FsFile *f = p;

    tree_file_unref(f->tf);
    tree_node_clear(&f->tn);
    if (f->ph)
        fuse_pollhandle_destroy(f->ph);
    g_mutex_clear(&f->ph_lock);
    g_mutex_clear(&f->state_lock);
}

FsFile *
fs_file_ref(FsFile *f)
{
    return g_atomic_rc_box_acquire(f);
}

void
fs_file_unref(FsFile *f)
{
    if (f)
        g_atomic_rc_box_release_full(f, fs_file_clear);
}


static void
fs_dir_free(gpointer p)
{
    FsDir *d = p;

    g_ptr_array_unref(d->list);
    g_free(d);
}

uint64_t
fs_fh_new(void)
{
    return __atomic_fetch_add(&fs_next_fh, 1, __ATOMIC_SEQ_CST);
}

/* ---- the store ---- */

static void
fs_handle_put(uint64_t fh, const FsHandleRec *rec, const void *state, size_t len)
{
    guint8 buf[sizeof(FsHandleRec) + TREE_FILE_STATE_MAX];
    int ret;

    if (!fs_state.store)
        return;
    len = MIN(len, (size_t)TREE_FILE_STATE_MAX);
    memcpy(buf, rec, sizeof(*rec));
    ((FsHandleRec *)buf)->state_len = (uint16_t)len;
    if (len)
        memcpy(buf + sizeof(*rec), state, len);
    if ((ret = istore_handle_put(fs_state.store, fh, buf, sizeof(*rec) + len)) < 0)
        g_debug("handle store: %s", g_strerror(-ret));
}

static void
fs_handle_drop(uint64_t fh)
{
    if (fs_state.store)
        istore_handle_drop(fs_state.store, fh);
}

void
fs_file_store(FsFile *f, bool force)
{
    guint8 state[TREE_FILE_STATE_MAX];
    size_t len = f->tf ? tree_file_save(f->tf, state, sizeof(state)) : 0;
    FsHandleRec rec = {
        .magic = FS_HREC_MAGIC, .kind = FS_HREC_FILE, .ino = f->ino, .flags = f->flags,
        .uid = (uint32_t)f->uid, .cached = f->cached,
    };
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&f->state_lock);

    if (!force && len == f->state_len && memcmp(state, f->state, len) == 0)
        return;
    memcpy(f->state, state, len);
    f->state_len = len;
    g_strlcpy(rec.uuid, f->tn.uuid, sizeof(rec.uuid));
    fs_handle_put(f->fh, &rec, state, len);
}

/* ---- the tables ---- */

FsFile *
fs_file_new(uint64_t fh, fuse_ino_t ino, int flags, uid_t uid)
{
    FsFile *f = g_atomic_rc_box_new0(FsFile);

    g_mutex_init(&f->ph_lock);
    g_mutex_init(&f->state_lock);
    f->fh = fh;
    f->ino = ino;
    f->flags = flags;
    f->uid = uid;
    f->gen_seen = ino_gen(ino);   /* what the kernel will serve from now on is seen */
    return f;
}

void
fs_file_insert(FsFile *f)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (!fs_files)
        fs_files = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                         (GDestroyNotify)fs_file_unref);
    g_hash_table_insert(fs_files, &f->fh, f);
}

FsFile *
fs_file_get(struct fuse_file_info *fi)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    FsFile *f = fs_files ? g_hash_table_lookup(fs_files, &fi->fh) : NULL;

    return f ? fs_file_ref(f) : NULL;
}

FsFile *
fs_file_take(struct fuse_file_info *fi)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    gpointer f = NULL;

    if (fs_files && g_hash_table_steal_extended(fs_files, &fi->fh, NULL, &f))
        fs_handle_drop(fi->fh);
    return f;
}

void
fs_files_free(void)
{
    g_mutex_lock(&fs_files_lock);
    g_clear_pointer(&fs_files, g_hash_table_destroy);
    g_clear_pointer(&fs_dirs, g_hash_table_destroy);
    g_mutex_unlock(&fs_files_lock);
}

static void
fs_dir_insert(FsDir *d)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (!fs_dirs)
        fs_dirs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, fs_dir_free);
    g_hash_table_insert(fs_dirs, &d->fh, d);
}

uint64_t
fs_dir_publish(fuse_ino_t ino, GPtrArray *list)
{
    FsDir *d = g_new0(FsDir, 1);
    FsHandleRec rec = { .magic = FS_HREC_MAGIC, .kind = FS_HREC_DIR, .ino = ino };

    d->fh = fs_fh_new();
    d->ino = ino;
    d->list = list;
    fs_handle_put(d->fh, &rec, NULL, 0);
    fs_dir_insert(d);
    return d->fh;
}

GPtrArray *
fs_dir_get(uint64_t fh)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    FsDir *d = fs_dirs ? g_hash_table_lookup(fs_dirs, &fh) : NULL;

    return d ? g_ptr_array_ref(d->list) : NULL;
}

void
fs_dir_release(uint64_t fh)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (fs_dirs && g_hash_table_remove(fs_dirs, &fh))
        fs_handle_drop(fh);
}

/* ---- handles of an earlier process ---- */

typedef struct {
    uint64_t fh;
    FsHandleRec rec;
    guint8 state[TREE_FILE_STATE_MAX];
    size_t state_len;
} FsHandleBlob;

static void
fs_handle_collect(uint64_t fh, const void *data, size_t len, void *opaque)
{
    FsHandleBlob b = { .fh = fh };

    if (fh == FS_FH_PROCESS || len < sizeof(b.rec))
        return;
    memcpy(&b.rec, data, sizeof(b.rec));
    if (b.rec.magic != FS_HREC_MAGIC || len != sizeof(b.rec) + b.rec.state_len ||
        b.rec.state_len > TREE_FILE_STATE_MAX)
        return;
    memcpy(b.state, (const guint8 *)data + sizeof(b.rec), b.rec.state_len);
    b.state_len = b.rec.state_len;
    g_array_append_val((GArray *)opaque, b);
}

/* The node a handle was opened on, bound to its guest; FALSE when it is gone. */
static bool
fs_handle_node(const FsHandleBlob *b, TreeNode *tn)
{
    FsNodeRef r = { 0 };
    bool ok = ino_get((fuse_ino_t)b->rec.ino, &r) == 0 && !r.dead;

    if (ok) {
        tree_node_copy(tn, &r.tn);
        g_strlcpy(tn->uuid, b->rec.uuid, sizeof(tn->uuid));
    }
    ino_ref_clear(&r);
    return ok;
}

static void
fs_file_restore_one(const FsHandleBlob *b, const char *notice, guint *gone)
{
    FsFile *f = fs_file_new(b->fh, (fuse_ino_t)b->rec.ino, b->rec.flags, b->rec.uid);
    int ret = -ENOENT;

    f->cached = b->rec.cached != 0;
    memcpy(f->state, b->state, b->state_len);
    f->state_len = b->state_len;
    if (fs_handle_node(b, &f->tn)) {
        for (int i = 0; i < FS_RESTORE_TRIES; i++) {
            ret = tree_file_restore(fs_tree(), &f->tn, f->flags, f->uid, b->state,
                                    b->state_len, notice, &f->tf);
            if (ret != -EINPROGRESS || ino_wait_ready(fs_tree(), &f->tn) < 0)
                break;
        }
    }
    if (ret < 0) {
        f->tf = NULL;
        (*gone)++;
    }
    fs_file_insert(f);
}

static void
fs_dir_restore_one(const FsHandleBlob *b, guint *gone)
{
    FsDir *d = g_new0(FsDir, 1);
    TreeNode tn = { 0 };
    int ret = -ENOENT;

    d->fh = b->fh;
    d->ino = (fuse_ino_t)b->rec.ino;
    if (fs_handle_node(b, &tn)) {
        for (int i = 0; i < FS_RESTORE_TRIES; i++) {
            ret = tree_list(fs_tree(), &tn, &d->list);
            if (ret != -EINPROGRESS || ino_wait_ready(fs_tree(), &tn) < 0)
                break;
        }
    }
    if (ret < 0) {
        d->list = g_ptr_array_new();
        (*gone)++;
    }
    tree_node_clear(&tn);
    fs_dir_insert(d);
}

void
fs_files_restore(Istore *st)
{
    g_autoptr(GArray) blobs = g_array_new(FALSE, FALSE, sizeof(FsHandleBlob));
    g_autofree char *notice = g_strdup_printf(".domfs takeover %s",
                                              fs_state.takeover ? fs_state.takeover : "");
    guint gone = 0;

    istore_foreach_handle(st, fs_handle_collect, blobs);
    for (guint i = 0; i < blobs->len; i++) {
        const FsHandleBlob *b = &g_array_index(blobs, FsHandleBlob, i);

        if (b->rec.kind == FS_HREC_DIR)
            fs_dir_restore_one(b, &gone);
        else
            fs_file_restore_one(b, notice, &gone);
    }
    __atomic_store_n(&fs_next_fh, MAX(istore_next_fh(st), (uint64_t)1), __ATOMIC_SEQ_CST);
    if (blobs->len)
        g_message("taken over %u open file(s) and director(ies) (%u of them gone)",
                  blobs->len, gone);
}
