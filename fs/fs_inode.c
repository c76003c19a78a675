/* fs_inode.c - the inode table, in the manner of libfuse's passthrough_ll.c: a node per
 * (parent, name) the kernel has looked up, a lookup count the kernel's FORGET brings back
 * down, and removal when nothing refers to it any more. Inode numbers are never reused,
 * and a guest directory is keyed by name and uuid, so a stale handle to a vanished guest
 * can never reach a new one of the same name. A node keeps its parent alive; the tree's
 * own state (does the guest still exist?) lives in lib/, not here.
 *
 * Locking: ino_lock guards every field of every node and the tables; it is a leaf. */
#define G_LOG_DOMAIN "domfs-fs"

#include "fs_inode.h"

#include <errno.h>
#include <string.h>

struct FsNode {
    fuse_ino_t ino;
    uint64_t nlookup;
    FsNode *parent;
    char *name;
    char *key;              /* in the parent's children: the name, or a unique key */
    TreeNode tn;
    GHashTable *children;   /* key -> FsNode (weak: a child unlinks itself) */
};

static GMutex ino_lock;         /* guards everything below and every FsNode */
static GHashTable *ino_by_num;  /* fuse_ino_t -> FsNode */
static fuse_ino_t ino_next = FUSE_ROOT_ID + 1;
static FsNode *ino_root;
static guint64 ino_unique_serial;

char *
fs_inode_key(const char *name, const TreeNode *tn)
{
    /* '/' never occurs in a name: no key of another kind can collide */
    if (tn->kind == TN_GUEST && tn->uuid[0])
        return g_strdup_printf("%s/%s", name, tn->uuid);
    return g_strdup(name);
}

static FsNode *
ino_node_new(fuse_ino_t ino, FsNode *parent, const char *name, const char *key, TreeNode *tn)
{
    FsNode *n = g_new0(FsNode, 1);

    n->ino = ino;
    n->parent = parent;
    n->name = g_strdup(name);
    n->key = g_strdup(key);
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

void
ino_table_init(Tree *tree)
{
    TreeNode tn;

    ino_by_num = g_hash_table_new(g_int64_hash, g_int64_equal);
    tree_root(tree, &tn);
    ino_root = ino_node_new(FUSE_ROOT_ID, NULL, "", "", &tn);
    ino_root->nlookup = 1;   /* the root is never forgotten */
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
}

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
         * device...): the tree node is refreshed, the inode number kept */
        tree_node_clear(&n->tn);
        n->tn = *tn;
        memset(tn, 0, sizeof(*tn));
    } else {
        n = ino_node_new(ino_next++, parent, name, key, tn);
    }
    n->nlookup++;
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
    if (n) {
        n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
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
        FsNodeRef r = { .ino = c->ino, .parent = n->ino, .name = g_strdup(c->name) };

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
