/* ut_fs.c - see ut_fs.h. */
#include "ut_fs.h"

static const char *
ut_fs_basename(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

fuse_ino_t
ut_fs_lookup(Tree *t, fuse_ino_t parent, const char *path)
{
    TreeNode tn;
    TreeAttr attr;
    fuse_ino_t ino;
    int ret = ut_walk(t, path, &tn, &attr);

    if (ret < 0)
        g_error("walk \"%s\": %s", path, g_strerror(-ret));
    ino = ino_lookup_add(parent, ut_fs_basename(path), &tn);
    g_assert_cmpuint(ino, !=, 0);
    return ino;
}

fuse_ino_t
ut_fs_lookup_path(Tree *t, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autoptr(GString) sofar = g_string_new(NULL);
    fuse_ino_t ino = FUSE_ROOT_ID;

    for (guint i = 0; parts[i]; i++) {
        g_string_append_printf(sofar, "%s%s", i ? "/" : "", parts[i]);
        ino = ut_fs_lookup(t, ino, sofar->str);
    }
    return ino;
}

char *
ut_fs_key(Tree *t, const char *path)
{
    TreeNode tn;
    TreeAttr attr;
    char *key;

    g_assert_cmpint(ut_walk(t, path, &tn, &attr), ==, 0);
    key = fs_inode_key(ut_fs_basename(path), &tn);
    tree_node_clear(&tn);
    return key;
}
