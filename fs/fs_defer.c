/* fs_defer.c - operations that wait for a guest's XML without holding a thread.
 *
 * Right after start-up (or a reconnect) guests are listed before their XML is loaded; an
 * operation whose answer needs the XML (a devices/ lookup, `cat xml`, `ls devices/disks`)
 * asks the loader to hurry and waits for the guest (tree_when_ready), then runs again
 * from the loader's thread. A host that stopped answering makes it fail with ETIMEDOUT
 * after -o timeout. */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>

#include "fs.h"

typedef struct {
    FsRunFn run;
    void *args;
    GDestroyNotify free_args;
} FsDeferred;

static void
fs_deferred_free(void *data)
{
    FsDeferred *d = data;

    if (d->free_args)
        d->free_args(d->args);
    g_free(d);
}

void
fs_replied(FsPending *p)
{
    if (p)
        fs_pending_done(p);
}

void
fs_reply_err(fuse_req_t req, FsPending *p, int err)
{
    fuse_reply_err(req, err);
    fs_replied(p);
}

static void
fs_defer_retry(FsPending *p, int result)
{
    FsDeferred *d = fs_pending_data(p);

    if (result < 0)
        fs_reply_err(fs_pending_req(p), p, -result);
    else
        d->run(fs_pending_req(p), d->args, p);
}

void
fs_defer(fuse_req_t req, FsPending *p, const TreeNode *n, FsRunFn run, void *args,
         GDestroyNotify free_args)
{
    g_autoptr(Completion) c = NULL;
    FsDeferred *d;
    int ret;

    if (!p) {
        d = g_new0(FsDeferred, 1);
        *d = (FsDeferred){ run, args, free_args };
        p = fs_pending_new(req, fs_defer_retry, NULL, d, fs_deferred_free);
    }
    c = fs_pending_arm(p);
    ret = tree_when_ready(fs_tree(), n, fuse_req_ctx(req)->uid, c);
    if (ret == -EINPROGRESS || !fs_pending_take(p))
        return;
    if (ret < 0)
        fs_reply_err(req, p, -ret);
    else
        run(req, ((FsDeferred *)fs_pending_data(p))->args, p);
}
