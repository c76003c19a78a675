/* fs_diff.c - the notifier's decision (see fs_diff.h: apart, so that it is tested
 * without a mount), moved out of fs_notify.c, which issues what this returns. A file
 * changed when its rendering differs, a directory when its listing does: the renderings
 * are lib/'s (tree_render, tree_list_guest), of any snapshot, current or not. */
#define G_LOG_DOMAIN "domfs-fs"

#include "fs_diff.h"

#include <string.h>

static void
fs_diff_inval_clear(gpointer p)
{
    g_clear_pointer(&((FsDiffInval *)p)->name, g_free);
}

GArray *
fs_diff_new(void)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(FsDiffInval));

    g_array_set_clear_func(out, fs_diff_inval_clear);
    return out;
}

/* Inode INO (NAME NULL) or entry NAME of directory INO; nothing for inode 0 (unknown). */
static void
fs_diff_add(GArray *out, fuse_ino_t ino, const char *name)
{
    FsDiffInval v = { .ino = ino };

    if (!ino)
        return;
    v.name = g_strdup(name);
    g_array_append_val(out, v);
}

/* The entries that appeared or vanished between two listings of one directory. */
static bool
fs_diff_dir(fuse_ino_t ino, const TreeNode *tn, const DomInfo *a, const DomInfo *b,
            GArray *out)
{
    g_autoptr(GPtrArray) la = NULL;
    g_autoptr(GPtrArray) lb = NULL;
    g_autoptr(GHashTable) sa = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) sb = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer k;
    bool changed = false;

    if (tree_list_guest(a, tn, &la) < 0)
        la = g_ptr_array_new();
    if (tree_list_guest(b, tn, &lb) < 0)
        lb = g_ptr_array_new();
    for (guint i = 0; i < la->len; i++)
        g_hash_table_add(sa, ((TreeDirent *)g_ptr_array_index(la, i))->name);
    for (guint i = 0; i < lb->len; i++)
        g_hash_table_add(sb, ((TreeDirent *)g_ptr_array_index(lb, i))->name);
    /* gone ones, then new ones (a cached negative entry) */
    for (int pass = 0; pass < 2; pass++) {
        g_hash_table_iter_init(&it, pass ? sb : sa);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            if (!g_hash_table_contains(pass ? sa : sb, k)) {
                fs_diff_add(out, ino, k);
                changed = true;
            }
        }
    }
    return changed;
}

static bool
fs_diff_file(const TreeNode *tn, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GString) ca = g_string_new(NULL);
    g_autoptr(GString) cb = g_string_new(NULL);
    int ra = tree_render(a, tn, ca);
    int rb = tree_render(b, tn, cb);

    return ra != rb || !g_string_equal(ca, cb);
}

void
fs_diff_guest(fuse_ino_t guest_ino, const GArray *nodes, const DomInfo *a,
              const DomInfo *b, GArray *out)
{
    TreeNode gtn = { .kind = TN_GUEST };

    if (fs_diff_dir(guest_ino, &gtn, a, b, out))
        fs_diff_add(out, guest_ino, NULL);
    for (guint i = 0; i < nodes->len; i++) {
        const FsNodeRef *r = &g_array_index(nodes, FsNodeRef, i);
        bool changed;

        if (tree_kind_is_dir(r->tn.kind))
            changed = fs_diff_dir(r->ino, &r->tn, a, b, out);
        else if (tree_kind_has_content(r->tn.kind))
            changed = fs_diff_file(&r->tn, a, b);
        else
            changed = false;
        if (changed)
            fs_diff_add(out, r->ino, NULL);
    }
}

/* Every known inode of a guest directory that vanished, was renamed or (re)appeared. */
static void
fs_diff_guest_tree(fuse_ino_t guest_ino, GArray *out)
{
    g_autoptr(GArray) nodes = NULL;

    if (!guest_ino)
        return;
    fs_diff_add(out, guest_ino, NULL);
    nodes = ino_subtree(guest_ino);
    for (guint i = 0; i < nodes->len; i++)
        fs_diff_add(out, g_array_index(nodes, FsNodeRef, i).ino, NULL);
}

/* The inode of D's guest directory under ROOT if the kernel knows it, else 0. */
static fuse_ino_t
fs_diff_guest_ino(fuse_ino_t root, const DomInfo *d)
{
    TreeNode tn = { .kind = TN_GUEST };
    g_autofree char *key = NULL;

    g_strlcpy(tn.uuid, tree_snap_uuid(d), sizeof(tn.uuid));
    key = fs_inode_key(tree_snap_dirname(d), &tn);
    return ino_child(root, key);
}

void
fs_diff_change(fuse_ino_t root, const DomInfo *old_info, const DomInfo *new_info,
               GArray *out)
{
    const char *old_dir = old_info ? tree_snap_dirname(old_info) : NULL;
    const char *new_dir = new_info ? tree_snap_dirname(new_info) : NULL;
    bool renamed = old_dir && new_dir && strcmp(old_dir, new_dir) != 0;
    fuse_ino_t guest_ino;

    if (old_dir && (!new_dir || renamed)) {
        fs_diff_guest_tree(fs_diff_guest_ino(root, old_info), out);
        fs_diff_add(out, root, old_dir);
    }
    if (new_dir && (!old_dir || renamed)) {
        fs_diff_guest_tree(fs_diff_guest_ino(root, new_info), out);
        fs_diff_add(out, root, new_dir);
    }
    if (!old_dir || !new_dir || renamed)
        fs_diff_add(out, root, NULL);
    if (old_dir && new_dir && !renamed && (guest_ino = fs_diff_guest_ino(root, new_info))) {
        g_autoptr(GArray) nodes = ino_subtree(guest_ino);

        fs_diff_guest(guest_ino, nodes, old_info, new_info, out);
    }
}
