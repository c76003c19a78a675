/* fs_inode.c - the inode table, in the manner of libfuse's passthrough_ll.c: a node per
 * (parent, name) the kernel has looked up, a lookup count the kernel's FORGET brings back
 * down, and removal when nothing refers to it any more. Inode numbers are never reused,
 * and a guest directory is keyed by name and uuid, so a stale handle to a vanished guest
 * can never reach a new one of the same name. A node keeps its parent alive; the tree's
 * own state (does the guest still exist?) lives in lib/, not here.
 *
 * The table outlives the process (fs_istore.h): every node the kernel hears of is put in
 * the store before the reply that tells the kernel, again at every change of its lookup
 * count, and dropped with it. The next process (a crash or an upgrade, fs_takeover.h)
 * rebuilds the table from the store at start: each node is resolved again by name in
 * its parent; one whose guest is gone (or that cannot be resolved) stays, "dead", and
 * answers ENOENT until the kernel forgets it.
 *
 * Locking: ino_lock guards every field of every node and the tables; it is a leaf apart
 * from the store's own lock, taken inside it (the store never calls back). */
#define G_LOG_DOMAIN "domfs-fs"

#include "fs_inode.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Store record flags (IstoreNode.flags): the name is the node's key (fs_inode_key). */
#define INO_REC_KEYED 0x1u
#define INO_REC_UNIQUE 0x2u
/* A node restored from the store tries to resolve this often while its guest's XML loads. */
#define INO_RESTORE_TRIES 3
/* The uuid of a dead node's tree node: no guest has it, so every question is ENOENT. */
#define INO_DEAD_UUID "gone"

struct FsNode {
    fuse_ino_t ino;
    uint64_t nlookup;
    FsNode *parent;
    char *name;
    char *key;              /* in the parent's children: the name, or a unique key */
    uint32_t rec_flags;     /* INO_REC_* */
    bool dead;              /* restored, but its guest is gone */
    guint64 gen;            /* bumped at each invalidation: a poll()er's "changed" */
    guint writing;          /* writes in flight on it (their poll wake-ups wait) */
    TreeNode tn;
    GHashTable *children;   /* key -> FsNode (weak: a child unlinks itself) */
};

static GMutex ino_lock;         /* guards everything below and every FsNode */
static GHashTable *ino_by_num;  /* fuse_ino_t -> FsNode */
static fuse_ino_t ino_next = FUSE_ROOT_ID + 1;
static FsNode *ino_root;
static guint64 ino_unique_serial;
static Istore *ino_store;       /* NULL: none (the kernel's inodes die with the process) */
static gint ino_store_warned;

char *
fs_inode_key(const char *name, const TreeNode *tn)
{
    /* '/' never occurs in a name: no key of another kind can collide */
    if (tn->kind == TN_GUEST && tn->uuid[0])
        return g_strdup_printf("%s/%s", name, tn->uuid);
    return g_strdup(name);
}

/* With the lock held: the store learns what N is now (before the kernel does). */
static void
ino_mirror(const FsNode *n)
{
    IstoreNode rec = {
        .ino = n->ino, .parent = n->parent ? n->parent->ino : 0, .nlookup = n->nlookup,
        .flags = n->rec_flags, .name = n->key,
    };
    int ret;

    if (!ino_store || n == ino_root || (ret = istore_node_put(ino_store, &rec)) == 0)
        return;
    if (g_atomic_int_compare_and_exchange(&ino_store_warned, 0, 1))
        g_warning("inode store: %s: after a crash or an upgrade the kernel's inodes may be "
                  "stale", g_strerror(-ret));
}

static void
ino_unstore(const FsNode *n)
{
    if (ino_store)
        istore_node_drop(ino_store, n->ino);
}

static FsNode *
ino_node_new(fuse_ino_t ino, FsNode *parent, const char *name, const char *key, TreeNode *tn)
{
    FsNode *n = g_new0(FsNode, 1);

    n->ino = ino;
    n->parent = parent;
    n->name = g_strdup(name);
    n->key = g_strdup(key);
    n->rec_flags = INO_REC_KEYED;
    n->tn = *tn;
    memset(tn, 0, sizeof(*tn));
    g_hash_table_insert(ino_by_num, &n->ino, n);
    if (parent) {
        if (!parent->children)
            parent->children = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_insert(parent->children, n->key, n);
    }
    return n;
}

static void
ino_node_free(FsNode *n)
{
    tree_node_clear(&n->tn);
    if (n->children)
        g_hash_table_destroy(n->children);
    g_free(n->name);
    g_free(n->key);
    g_free(n);
}

void
ino_table_free(void)
{
    GHashTableIter it;
    gpointer v;

    if (!ino_by_num)
        return;
    g_hash_table_iter_init(&it, ino_by_num);
    while (g_hash_table_iter_next(&it, NULL, &v))
        ino_node_free(v);
    g_hash_table_destroy(ino_by_num);
    ino_by_num = NULL;
    ino_store = NULL;
}

/* ---- waiting for a guest at start-up ---- */

typedef struct {
    GMutex lock;
    GCond cond;
    bool done;
    int result;
} InoWait;

static void
ino_wait_clear(gpointer p)
{
    InoWait *w = p;

    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
}

static void
ino_wait_unref(gpointer p)
{
    g_atomic_rc_box_release_full(p, ino_wait_clear);
}

static void
ino_wait_done(void *data, int result)
{
    InoWait *w = data;

    g_mutex_lock(&w->lock);
    w->done = true;
    w->result = result;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

int
ino_wait_ready(Tree *tree, const TreeNode *tn)
{
    InoWait *w = g_atomic_rc_box_new0(InoWait);
    g_autoptr(Completion) c = completion_new(ino_wait_done, g_atomic_rc_box_acquire(w),
                                             ino_wait_unref);
    gint64 end = g_get_monotonic_time() + FS_RESTORE_WAIT_MAX_S * G_USEC_PER_SEC;
    int ret;

    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    if ((ret = tree_when_ready(tree, tn, getuid(), c)) == -EINPROGRESS) {
        g_mutex_lock(&w->lock);
        while (!w->done && g_cond_wait_until(&w->cond, &w->lock, end))
            ;
        ret = w->done ? w->result : -ETIMEDOUT;
        g_mutex_unlock(&w->lock);
        completion_cancel(c);
    }
    ino_wait_unref(w);
    return ret;
}

/* ---- the table at start ---- */

typedef struct {
    IstoreNode node;     /* name: owned */
} InoRec;

static void
ino_rec_clear(gpointer p)
{
    g_free((char *)((InoRec *)p)->node.name);
}

static void
ino_rec_collect(const IstoreNode *node, void *opaque)
{
    InoRec r = { *node };

    r.node.name = g_strdup(node->name);
    g_array_append_val((GArray *)opaque, r);
}

/* Resolve NAME in PARENT (waiting for the guest's XML if need be) into *OUT, a guest
 * directory only if it is still the guest UUID (NULL: any). FALSE: dead (*OUT then
 * answers ENOENT). */
static bool
ino_resolve(Tree *tree, const TreeNode *parent, const char *name, const char *uuid,
            TreeNode *out)
{
    TreeAttr attr;
    int ret = -EINPROGRESS;

    for (int i = 0; i < INO_RESTORE_TRIES && ret == -EINPROGRESS; i++) {
        if ((ret = tree_child(tree, parent, name, out, &attr)) == -EINPROGRESS &&
            ino_wait_ready(tree, parent) < 0)
            break;
    }
    if (ret == 0 && (out->kind != TN_GUEST || !uuid || strcmp(out->uuid, uuid) == 0))
        return true;
    if (ret == 0)
        tree_node_clear(out);
    *out = (TreeNode){ .kind = TN_GUEST, .conn = parent->conn,
                       .guest = g_strdup(parent->guest ? parent->guest : name) };
    g_strlcpy(out->uuid, INO_DEAD_UUID, sizeof(out->uuid));
    return false;
}

/* Node R of the store: its parent is there already (inos only grow). */
static void
ino_restore_one(Tree *tree, const IstoreNode *r, guint *dead, guint *lost)
{
    g_autofree char *name = g_strdup(r->name);
    char *slash = (r->flags & INO_REC_KEYED) ? strchr(name, '/') : NULL;
    const char *tail = slash ? slash + 1 : NULL;
    TreeNode ptn = { 0 };
    TreeNode tn = { 0 };
    FsNode *parent;
    FsNode *n;
    bool found = false;
    bool alive;

    if (slash)
        *slash = '\0';
    g_mutex_lock(&ino_lock);
    parent = g_hash_table_lookup(ino_by_num, &(fuse_ino_t){ r->parent });
    if (parent && r->ino > FUSE_ROOT_ID && !g_hash_table_contains(ino_by_num, &r->ino)) {
        tree_node_copy(&ptn, &parent->tn);
        found = true;
    }
    g_mutex_unlock(&ino_lock);
    if (!found) {
        (*lost)++;
        istore_node_drop(ino_store, r->ino);
        return;
    }
    /* a guest's tail is its uuid; a unique node's is "/SERIAL" (ino_lookup_unique) */
    alive = ino_resolve(tree, &ptn, name, tail && *tail != '/' ? tail : NULL, &tn);
    if (!alive)
        (*dead)++;
    g_mutex_lock(&ino_lock);
    n = ino_node_new(r->ino, parent, name, r->name, &tn);
    n->nlookup = r->nlookup;
    n->rec_flags = r->flags;
    n->dead = !alive;
    if ((r->flags & INO_REC_UNIQUE) && tail && *tail == '/')
        ino_unique_serial = MAX(ino_unique_serial, g_ascii_strtoull(tail + 1, NULL, 10));
    ino_next = MAX(ino_next, r->ino + 1);
    g_mutex_unlock(&ino_lock);
    tree_node_clear(&ptn);
}

static void
ino_restore(Tree *tree)
{
    g_autoptr(GArray) recs = g_array_new(FALSE, FALSE, sizeof(InoRec));
    guint dead = 0, lost = 0;

    g_array_set_clear_func(recs, ino_rec_clear);
    istore_foreach_node(ino_store, ino_rec_collect, recs);
    for (guint i = 0; i < recs->len; i++)
        ino_restore_one(tree, &g_array_index(recs, InoRec, i).node, &dead, &lost);
    g_mutex_lock(&ino_lock);
    ino_next = MAX(ino_next, istore_next_ino(ino_store));
    g_mutex_unlock(&ino_lock);
    if (recs->len)
        g_message("taken over %u inode(s) the kernel knows (%u of them gone, %u orphans "
                  "dropped)", recs->len - lost, dead, lost);
}

void
ino_table_init(Tree *tree, Istore *st)
{
    TreeNode tn;

    ino_by_num = g_hash_table_new(g_int64_hash, g_int64_equal);
    tree_root(tree, &tn);
    ino_root = ino_node_new(FUSE_ROOT_ID, NULL, "", "", &tn);
    ino_root->nlookup = 1;   /* the root is never forgotten */
    ino_store = st;
    if (st)
        ino_restore(tree);
}

/* ---- lookups ---- */

int
ino_get(fuse_ino_t ino, FsNodeRef *out)
{
    FsNode *n;
    int ret = -ENOENT;

    g_mutex_lock(&ino_lock);
    n = g_hash_table_lookup(ino_by_num, &ino);
    if (n) {
        out->ino = n->ino;
        out->parent = n->parent ? n->parent->ino : n->ino;
        out->name = g_strdup(n->name);
        out->dead = n->dead;
        tree_node_copy(&out->tn, &n->tn);
        ret = 0;
    }
    g_mutex_unlock(&ino_lock);
    return ret;
}

void
ino_ref_clear(FsNodeRef *r)
{
    g_clear_pointer(&r->name, g_free);
    tree_node_clear(&r->tn);
}

fuse_ino_t
ino_lookup_unique(fuse_ino_t parent_ino, const char *name, TreeNode *tn)
{
    g_autofree char *key = NULL;
    FsNode *parent;
    FsNode *n;
    fuse_ino_t ino = 0;

    g_mutex_lock(&ino_lock);
    parent = g_hash_table_lookup(ino_by_num, &parent_ino);
    if (parent) {
        /* a key no name can collide with: '/' never occurs in a name */
        key = g_strdup_printf("%s//%" G_GUINT64_FORMAT, name, ++ino_unique_serial);
        n = ino_node_new(ino_next++, parent, name, key, tn);
        n->nlookup = 1;
        n->rec_flags |= INO_REC_UNIQUE;
        ino_mirror(n);
        ino = n->ino;
    }
    g_mutex_unlock(&ino_lock);
    tree_node_clear(tn);
    return ino;
}

fuse_ino_t
ino_lookup_add(fuse_ino_t parent_ino, const char *name, TreeNode *tn)
{
    g_autofree char *key = fs_inode_key(name, tn);
    FsNode *parent;
    FsNode *n = NULL;
    fuse_ino_t ino = 0;

    g_mutex_lock(&ino_lock);
    parent = g_hash_table_lookup(ino_by_num, &parent_ino);
    if (!parent)
        goto cleanup;
    if (parent->children)
        n = g_hash_table_lookup(parent->children, key);
    if (n) {
        /* same name, maybe another thing now (a guest re-created as another kind of
         * device, a node that was dead at a takeover...): the tree node is refreshed,
         * the inode number kept */
        tree_node_clear(&n->tn);
        n->tn = *tn;
        n->dead = false;
        memset(tn, 0, sizeof(*tn));
    } else {
        n = ino_node_new(ino_next++, parent, name, key, tn);
    }
    n->nlookup++;
    ino_mirror(n);
    ino = n->ino;

 cleanup:
    g_mutex_unlock(&ino_lock);
    tree_node_clear(tn);
    return ino;
}

/* With the lock held: drop N if nothing refers to it, then its parent likewise. */
static void
ino_maybe_drop(FsNode *n)
{
    while (n && n != ino_root && n->nlookup == 0 &&
           (!n->children || g_hash_table_size(n->children) == 0)) {
        FsNode *parent = n->parent;

        g_hash_table_remove(parent->children, n->key);
        g_hash_table_remove(ino_by_num, &n->ino);
        ino_unstore(n);
        ino_node_free(n);
        n = parent;
    }
}

void
ino_forget(fuse_ino_t ino, uint64_t nlookup)
{
    FsNode *n;

    g_mutex_lock(&ino_lock);
    n = g_hash_table_lookup(ino_by_num, &ino);
    if (n && n != ino_root) {
        n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
        if (n->nlookup > 0 || (n->children && g_hash_table_size(n->children) > 0))
            ino_mirror(n);
        ino_maybe_drop(n);
    }
    g_mutex_unlock(&ino_lock);
}

fuse_ino_t
ino_child(fuse_ino_t parent_ino, const char *key)
{
    FsNode *parent;
    FsNode *n = NULL;
    fuse_ino_t ino = 0;

    g_mutex_lock(&ino_lock);
    parent = g_hash_table_lookup(ino_by_num, &parent_ino);
    if (parent && parent->children)
        n = g_hash_table_lookup(parent->children, key);
    if (n)
        ino = n->ino;
    g_mutex_unlock(&ino_lock);
    return ino;
}

static void
ino_collect(FsNode *n, GArray *out)
{
    GHashTableIter it;
    gpointer v;

    if (!n->children)
        return;
    g_hash_table_iter_init(&it, n->children);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        FsNode *c = v;
        FsNodeRef r = { .ino = c->ino, .parent = n->ino, .name = g_strdup(c->name),
                        .dead = c->dead };

        tree_node_copy(&r.tn, &c->tn);
        g_array_append_val(out, r);
        ino_collect(c, out);
    }
}

GArray *
ino_subtree(fuse_ino_t ino)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(FsNodeRef));
    FsNode *n;

    g_array_set_clear_func(out, (GDestroyNotify)ino_ref_clear);
    g_mutex_lock(&ino_lock);
    n = g_hash_table_lookup(ino_by_num, &ino);
    if (n)
        ino_collect(n, out);
    g_mutex_unlock(&ino_lock);
    return out;
}

guint
ino_count(void)
{
    guint n;

    g_mutex_lock(&ino_lock);
    n = g_hash_table_size(ino_by_num);
    g_mutex_unlock(&ino_lock);
    return n;
}

guint64
ino_gen(fuse_ino_t ino)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ino_lock);
    FsNode *n = ino_by_num ? g_hash_table_lookup(ino_by_num, &ino) : NULL;

    return n ? n->gen : 0;
}

bool
ino_bump_gen(fuse_ino_t ino)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ino_lock);
    FsNode *n = ino_by_num ? g_hash_table_lookup(ino_by_num, &ino) : NULL;

    if (n)
        n->gen++;
    return !n || n->writing == 0;
}

void
ino_write_begin(fuse_ino_t ino)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ino_lock);
    FsNode *n = ino_by_num ? g_hash_table_lookup(ino_by_num, &ino) : NULL;

    if (n)
        n->writing++;
}

void
ino_write_end(fuse_ino_t ino)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ino_lock);
    FsNode *n = ino_by_num ? g_hash_table_lookup(ino_by_num, &ino) : NULL;

    if (n && n->writing > 0)
        n->writing--;
}
