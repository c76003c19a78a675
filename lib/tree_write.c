/* tree_write.c - what a write to a file does: checked and parsed in the request's thread
 * (a refusal is answered at once, its reason in the guest's `error`), then the libvirt
 * call as a job on the host's action threads (job.h), answered when libvirt answers or at
 * -o timeout. Writes are bound to the guest's uuid (the open file's node): a namesake
 * defined since is never touched. One value per write, like sysfs: a second chunk (a
 * write at a non-zero offset) or an append is refused. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "dev_model.h"
#include "dom_action.h"
#include "dom_note.h"
#include "domfs_limits.h"
#include "media.h"
#include "mig_run.h"
#include "verr.h"

typedef enum { WJ_STATE, WJ_AUTOSTART, WJ_METADATA, WJ_DEVICE, WJ_MIGRATE } WriteKind;

typedef struct {
    Tree *t;
    Host *h;
    char uuid[VIR_UUID_STRING_BUFLEN];
    char *file;               /* as the `error` file names it */
    WriteKind kind;
    StateAction act;
    gboolean flag;            /* autostart on; metadata: title */
    char *text;               /* metadata */
    char *xml;                /* device element */
    char *media;              /* a disk source path the media check must allow, or NULL */
    MediaWriter writer;
    gid_t *groups;            /* writer.groups' storage */
    MigTask *mig;
} WriteJob;

struct TreeWrite {
    Job *job;
    gboolean abortable;
};

static void
write_job_free(void *data)
{
    WriteJob *w = data;

    g_free(w->file);
    g_free(w->text);
    g_free(w->xml);
    g_free(w->media);
    g_free(w->groups);
    mig_task_free(w->mig);
    g_free(w);
}

/* ---- the job ---- */

static int
write_job_call(WriteJob *w, DomConn *c, char **msg)
{
    int ret;

    switch (w->kind) {
    case WJ_STATE:
        return act_run_state(c, w->uuid, w->act, msg);
    case WJ_AUTOSTART:
        return act_run_autostart(c, w->uuid, w->flag, msg);
    case WJ_METADATA:
        return act_run_metadata(c, w->uuid, w->flag, w->text, msg);
    case WJ_DEVICE:
        if (w->media &&
            (ret = media_check(w->media, w->t->cfg.media_dirs, &w->writer, msg)) < 0)
            return ret;
        return act_run_device(c, w->uuid, w->xml, msg);
    case WJ_MIGRATE:
        return mig_run(w->mig, msg);
    }
    return -EINVAL;
}

/* The call of the write, bracketed so that one unanswered past -o timeout shows the
 * connection as stalled (a migration runs as long as it needs: not bracketed). */
static int
write_job_run(void *data, char **msg)
{
    WriteJob *w = data;
    DomConn *c = host_conn(w->h);
    ConnCall *call;
    int ret;

    if (w->kind == WJ_MIGRATE)
        return write_job_call(w, c, msg);
    call = conn_call_begin_within(c, (gint64)MAX(w->t->cfg.timeout_s, 1) * G_USEC_PER_SEC);
    ret = write_job_call(w, c, msg);
    conn_call_end(c, call);
    return ret;
}

static void
write_job_finished(void *data, int result, const char *msg, gboolean late)
{
    WriteJob *w = data;
    DomCache *cache = host_cache(w->h);
    g_autofree char *line = NULL;

    if (!late) {
        if (result < 0)
            dom_note_error(cache, host_name(w->h), w->uuid, w->file, -result, msg);
        return;
    }
    line = result == 0 ? g_strdup("libvirt carried the write out after the writer had "
                                  "its answer")
                       : g_strdup_printf("%s after the writer had its answer: %s",
                                         verr_name(-result), msg ? msg : "");
    dom_note_later(cache, host_name(w->h), w->uuid, w->file, line);
}

static void
write_job_timed_out(void *data, gboolean started)
{
    WriteJob *w = data;
    g_autofree char *msg = NULL;

    msg = g_strdup_printf(started ? "libvirt did not answer within %u s: the outcome is "
                                    "unknown (what libvirt answers later is noted here)"
                                  : "libvirt did not answer within %u s: the write was not "
                                    "sent", w->t->cfg.timeout_s);
    dom_note_error(host_cache(w->h), host_name(w->h), w->uuid, w->file, ETIMEDOUT, msg);
}

static void
write_job_interrupt(void *data)
{
    WriteJob *w = data;

    if (w->kind == WJ_MIGRATE)
        mig_cancel(host_migrations(w->h), w->uuid);
}

static const JobOps write_job_ops = {
    .run = write_job_run,
    .finished = write_job_finished,
    .timed_out = write_job_timed_out,
    .interrupt = write_job_interrupt,
    .destroy = write_job_free,
};

/* ---- parsing what was written ---- */

static Host *
write_dest_host(Tree *t, Host *src, const char *name)
{
    for (guint i = 0; i < t->n_hosts; i++) {
        if (t->hosts[i] != src && g_strcmp0(host_name(t->hosts[i]), name) == 0)
            return t->hosts[i];
    }
    return NULL;
}

/* `migrate`: 1 when answered already (cancel), 0 with W ready to run, or -errno. */
static int
write_parse_migrate(WriteJob *w, const char *buf, size_t len, char **msg)
{
    MigTask *m;
    Host *dst;
    int ret;

    if (len > DOMFS_WRITE_MAX)
        return verr_set(msg, EFBIG, "write of %zu bytes refused: at most %d", len,
                        DOMFS_WRITE_MAX);
    if (mig_request_is_cancel(buf, len)) {
        if (mig_cancel(host_migrations(w->h), w->uuid) < 0)
            return verr_set(msg, EINVAL, "no migration of this guest is running");
        return 1;
    }
    m = w->mig = g_new0(MigTask, 1);
    if ((ret = mig_request_parse(buf, len, &m->req, msg)) < 0)
        return ret;
    m->src = host_conn(w->h);
    m->jobs = host_migrations(w->h);
    memcpy(m->uuid, w->uuid, sizeof(m->uuid));
    if ((dst = write_dest_host(w->t, w->h, m->req.host)))
        m->dst = host_conn(dst);
    else if (!(m->dest_uri = mig_uri_build(w->t->cfg.migrate_uri, &m->req)))
        return verr_set(msg, EINVAL, "migrate_uri template '%s' is invalid",
                        w->t->cfg.migrate_uri);
    w->kind = WJ_MIGRATE;
    return 0;
}

static int
write_parse_guest_file(WriteJob *w, int index, const char *buf, size_t len, char **msg)
{
    switch (index) {
    case GF_STATE:
        w->kind = WJ_STATE;
        return act_parse_state(buf, len, &w->act, msg);
    case GF_AUTOSTART:
        w->kind = WJ_AUTOSTART;
        return act_parse_autostart(buf, len, &w->flag, msg);
    case GF_TITLE:
    case GF_DESCRIPTION:
        w->kind = WJ_METADATA;
        w->flag = index == GF_TITLE;
        return act_take_value(buf, len, w->flag, &w->text, msg);
    case GF_MIGRATE:
        return write_parse_migrate(w, buf, len, msg);
    default:
        return verr_set(msg, EACCES, "%s is read-only", w->file);
    }
}

static int
write_parse_device(WriteJob *w, const DomInfo *d, const TreeNode *n, const char *buf,
                   size_t len, const TreeCaller *who, char **msg)
{
    g_autofree char *media = NULL;
    int ret;

    w->kind = WJ_DEVICE;
    ret = act_parse_device(d, n->devkind, n->dev, dev_fields(n->devkind)[n->index], buf, len,
                           &w->xml, &media, msg);
    /* only the mount's owner may name any file; others what the media check allows */
    if (ret == 0 && media && who->uid != w->t->cfg.owner) {
        w->media = g_steal_pointer(&media);
        w->groups = g_memdup2(who->groups, sizeof(gid_t) * MAX(who->n_groups, 0));
        w->writer = (MediaWriter){ who->uid, who->gid, w->groups, who->n_groups };
    }
    return ret;
}

static char *
write_file_name(const TreeNode *n)
{
    if (n->kind == TN_DEV_FILE)
        return g_strdup_printf("devices/%s/%s/%s", dev_kind_dir(n->devkind), n->dev,
                               dev_fields(n->devkind)[n->index]);
    return g_strdup(n->kind == TN_GUEST_FILE ? tree_guest_files[n->index].name : "?");
}

/* ---- the write ---- */

/* Check and parse: 0 with W ready to run, 1 when answered already, or -errno (*msg). */
static int
write_prepare(WriteJob *w, TreeFile *f, const DomInfo *d, const char *buf, size_t len,
              uint64_t off, const TreeCaller *who, char **msg)
{
    const TreeNode *n = tree_file_node(f);

    /* an append (>>) is refused even at offset 0: after `: > f` the kernel believes the
     * file is empty, and a value must never be taken as a second part of another */
    if (tree_file_flags(f) & O_APPEND)
        return verr_set(msg, EINVAL, "append refused: write the whole value at once (>)");
    if (off != 0)
        return verr_set(msg, EINVAL, "write at offset %llu refused: write the whole value at "
                        "once", (unsigned long long)off);
    if (n->kind == TN_DEV_FILE)
        return write_parse_device(w, d, n, buf, len, who, msg);
    return write_parse_guest_file(w, n->index, buf, len, msg);
}

/* The host has not answered an earlier write within -o timeout: this one fails at once
 * (ETIMEDOUT, never sent) instead of waiting a whole timeout of its own. Frees W then. */
static int
write_refuse_overdue(WriteJob *w)
{
    gint64 since = job_runner_overdue_since(host_jobs(w->h));
    g_autoptr(GDateTime) dt = NULL;
    g_autofree char *when = NULL;
    g_autofree char *msg = NULL;

    if (!since)
        return 0;
    dt = g_date_time_new_from_unix_utc(since / G_USEC_PER_SEC);
    when = g_date_time_format(dt, "%FT%TZ");
    msg = g_strdup_printf("libvirt has not answered a write sent at %s: this write was not "
                          "sent", when);
    dom_note_error(host_cache(w->h), host_name(w->h), w->uuid, w->file, ETIMEDOUT, msg);
    write_job_free(w);
    return -ETIMEDOUT;
}

int
tree_write(Tree *t, TreeFile *f, const char *buf, size_t len, uint64_t off,
           const TreeCaller *who, Completion *done, TreeWrite **op)
{
    const TreeNode *n = tree_file_node(f);
    g_autoptr(DomInfo) d = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *file = NULL;
    Job *job = NULL;
    TreeAttr attr;
    WriteJob *w;
    gint64 timeout;
    int ret;

    *op = NULL;
    if (n->kind != TN_GUEST_FILE && n->kind != TN_DEV_FILE)
        return -EACCES;
    if ((ret = tree_snap(t, n, &d)) < 0)
        return ret == -EINPROGRESS ? -EAGAIN : ret;
    /* read-only files never open for writing through FUSE; refused without a record */
    if ((ret = tree_guest_node_attr(d, n, &attr)) < 0)
        return ret;
    if (!attr.writable)
        return -EACCES;
    w = g_new0(WriteJob, 1);
    w->t = t;
    w->h = tree_host(t, n->conn);
    memcpy(w->uuid, d->uuid, sizeof(w->uuid));
    w->file = write_file_name(n);
    if ((ret = write_prepare(w, f, d, buf, len, off, who, &msg)) != 0) {
        if (ret < 0)
            dom_note_error(host_cache(w->h), host_name(w->h), w->uuid, w->file, -ret, msg);
        write_job_free(w);
        return MIN(ret, 0);
    }
    if ((ret = write_refuse_overdue(w)) < 0)
        return ret;
    /* a migration is bounded by itself and by keepalive, not by -o timeout */
    timeout = w->kind == WJ_MIGRATE ? 0 : (gint64)t->cfg.timeout_s * G_USEC_PER_SEC;
    file = g_strdup(w->file);
    if ((ret = job_submit(host_jobs(w->h), &write_job_ops, w, who->uid, timeout, done,
                          &job)) < 0) {
        dom_note_error(host_cache(tree_host(t, n->conn)), tree_host_name(t, n->conn), d->uuid,
                       file, EAGAIN, "too many writes of this user wait for libvirt");
        return ret;
    }
    *op = g_new0(TreeWrite, 1);
    (*op)->job = job;
    (*op)->abortable = n->kind == TN_GUEST_FILE && n->index == GF_MIGRATE;
    return -EINPROGRESS;
}

bool
tree_write_interrupt(TreeWrite *op, Completion *done)
{
    job_interrupt(op->job);
    /* the abort should end the migration at once; if the host does not answer, the
     * writer still gets EINTR after a grace period (the outcome goes to `migrate`) */
    if (op->abortable)
        tree_complete_after(done, DOMFS_INTERRUPT_GRACE_US, -EINTR);
    return op->abortable;
}

void
tree_write_unref(TreeWrite *op)
{
    if (!op)
        return;
    job_unref(op->job);
    g_free(op);
}
