/* mig_run.c - runs migrations.
 *
 * An action thread makes the one blocking libvirt call. When HOST is the name of another
 * host of this mount, that host's connection is the destination and libvirt's
 * client-managed protocol is used (virDomainMigrate3 with both connections); otherwise
 * the source daemon migrates peer-to-peer to the URI built from -o migrate_uri. In both
 * cases the data URI is tcp://HOST, as Nova does, so the destination's own hostname need
 * not resolve. A progress thread polls the job every DOMFS_MIGRATE_POLL_US and publishes
 * the `migrate` line in the guest's snapshot, so reading `migrate` never calls libvirt.
 * The host's registry of running jobs (uuid -> MigJob) lets `echo cancel` and an
 * interrupted writer abort one; the abort call runs on a short-lived thread of its own
 * (virDomainAbortJob on a stalled host would otherwise block whoever asked). */
#define G_LOG_DOMAIN "domfs-migrate"

#include "mig_run.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "dom_note.h"
#include "domfs_limits.h"
#include "verr.h"

typedef struct {
    DomConn *conn;
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainPtr dom;         /* a reference */
    gint cancelled;           /* atomic */
    GMutex lock;              /* with cond: the progress thread's sleep */
    GCond cond;
    gboolean done;
} MigJob;

struct MigJobs {
    GMutex lock;              /* guards jobs */
    GHashTable *jobs;         /* uuid (the job's) -> MigJob (ref) */
};

static void
mig_job_clear(gpointer p)
{
    MigJob *j = p;

    if (j->dom)
        virDomainFree(j->dom);
    g_mutex_clear(&j->lock);
    g_cond_clear(&j->cond);
}

static void
mig_job_unref(MigJob *j)
{
    g_atomic_rc_box_release_full(j, mig_job_clear);
}

MigJobs *
mig_jobs_new(void)
{
    MigJobs *m = g_new0(MigJobs, 1);

    g_mutex_init(&m->lock);
    m->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                    (GDestroyNotify)mig_job_unref);
    return m;
}

gboolean
mig_jobs_free(MigJobs *m)
{
    if (!m)
        return TRUE;
    if (g_hash_table_size(m->jobs) > 0)
        return FALSE;
    g_hash_table_destroy(m->jobs);
    g_mutex_clear(&m->lock);
    g_free(m);
    return TRUE;
}

void
mig_task_free(MigTask *t)
{
    if (!t)
        return;
    mig_request_clear(&t->req);
    g_free(t->dest_uri);
    g_free(t);
}

static gboolean
mig_register(MigJobs *m, MigJob *j)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);

    if (g_hash_table_contains(m->jobs, j->uuid))
        return FALSE;
    g_hash_table_insert(m->jobs, j->uuid, g_atomic_rc_box_acquire(j));
    return TRUE;
}

static void
mig_unregister(MigJobs *m, MigJob *j)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);

    g_hash_table_remove(m->jobs, j->uuid);
}

static gpointer
mig_abort_main(gpointer data)
{
    MigJob *j = data;

    if (virDomainAbortJob(j->dom) < 0)
        virResetLastError();   /* not started yet: the flag stops it */
    mig_job_unref(j);
    return NULL;
}

int
mig_cancel(MigJobs *m, const char *uuid)
{
    MigJob *j;

    g_mutex_lock(&m->lock);
    j = g_hash_table_lookup(m->jobs, uuid);
    if (j)
        g_atomic_rc_box_acquire(j);
    g_mutex_unlock(&m->lock);
    if (!j)
        return -ESRCH;
    g_atomic_int_set(&j->cancelled, 1);
    g_thread_unref(g_thread_new("migrate-abort", mig_abort_main, j));
    return 0;
}

/* ---- progress ---- */

static char *
mig_progress_line(virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = 0;
    unsigned long long processed = 0;
    unsigned long long total = 0;
    unsigned long long remaining = 0;
    unsigned long long bps = 0;

    if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0) {
        virResetLastError();
        return NULL;
    }
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsFree(params, nparams);
    if (type == VIR_DOMAIN_JOB_NONE)
        return NULL;
    /* processed counts re-sent dirty pages and can pass total: progress is what remains */
    return g_strdup_printf("running %llu %llu/%llu bytes %.1f MiB/s",
                           total ? (total - MIN(remaining, total)) * 100 / total : 0ULL,
                           processed, total, bps / 1048576.0);
}

static gpointer
mig_progress_main(gpointer data)
{
    MigJob *j = data;

    g_mutex_lock(&j->lock);
    while (!j->done) {
        gint64 until = g_get_monotonic_time() + DOMFS_MIGRATE_POLL_US;
        g_autofree char *line = NULL;
        ConnCall *call;

        g_mutex_unlock(&j->lock);
        call = conn_call_begin(j->conn);
        line = mig_progress_line(j->dom);
        conn_call_end(j->conn, call);
        g_mutex_lock(&j->lock);
        if (line && !j->done)
            dom_note_migrate(conn_cache(j->conn), j->uuid, line);
        g_cond_wait_until(&j->cond, &j->lock, until);
    }
    g_mutex_unlock(&j->lock);
    return NULL;
}

/* ---- the migration ---- */

static unsigned long
mig_flags(const MigRequest *req)
{
    unsigned long flags = req->offline ? VIR_MIGRATE_OFFLINE : VIR_MIGRATE_LIVE;

    if (req->persistent)
        flags |= VIR_MIGRATE_PERSIST_DEST;
    if (req->undefine_source)
        flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
    if (req->postcopy)
        flags |= VIR_MIGRATE_POSTCOPY;
    if (req->compressed)
        flags |= VIR_MIGRATE_COMPRESSED;
    if (req->auto_converge)
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (req->unsafe)
        flags |= VIR_MIGRATE_UNSAFE;
    return flags;
}

/* The one blocking call. DVC: the destination connection of this mount, or NULL to
 * migrate peer-to-peer to DEST_URI. 0 or -1 with libvirt's error set. */
static int
mig_perform(MigJob *j, const MigRequest *req, virConnectPtr dvc, const char *dest_uri)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int maxparams = 0;
    g_autofree char *data_uri = NULL;
    unsigned long flags = mig_flags(req);
    int ret = -1;

    if (!req->offline) {
        data_uri = req->port ? g_strdup_printf("tcp://%s:%u", req->host, req->port)
                             : g_strdup_printf("tcp://%s", req->host);
        if (virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
                                    data_uri) < 0)
            goto cleanup;
    }
    if (req->bandwidth_mib &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                req->bandwidth_mib) < 0)
        goto cleanup;
    if (dvc) {
        virDomainPtr moved = virDomainMigrate3(j->dom, dvc, params, nparams, flags);

        if (moved) {
            virDomainFree(moved);
            ret = 0;
        }
    } else {
        ret = virDomainMigrateToURI3(j->dom, dest_uri, params, nparams,
                                     flags | VIR_MIGRATE_PEER2PEER);
    }

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}

/* The migration proper, with progress; the job is registered for cancellation. 0 or
 * -errno with *msg. */
static int
mig_go(MigTask *t, MigJob *j, virConnectPtr dvc, char **msg)
{
    GThread *progress;
    int rc;

    dom_note_migrate(conn_cache(t->src), t->uuid, "running 0 0/0 bytes 0.0 MiB/s");
    progress = g_thread_new("migrate-progress", mig_progress_main, j);
    if (g_atomic_int_get(&j->cancelled))
        rc = verr_set(msg, ECANCELED, "migration cancelled before it started");
    else if ((rc = mig_perform(j, &t->req, dvc, t->dest_uri)) < 0)
        rc = -verr_take(msg);
    g_mutex_lock(&j->lock);
    j->done = TRUE;
    g_cond_signal(&j->cond);
    g_mutex_unlock(&j->lock);
    g_thread_join(progress);
    return rc;
}

/* The final status line, published on the source (and `completed` on the destination);
 * returns the write's result. */
static int
mig_conclude(MigTask *t, MigJob *j, int rc, gint64 t0, char **msg)
{
    g_autofree char *status = NULL;
    g_autofree char *line = NULL;
    int ret = 0;

    if (rc == 0) {
        status = g_strdup_printf("completed %s %.1fs", t->req.host,
                                 (g_get_monotonic_time() - t0) / (double)G_USEC_PER_SEC);
    } else if (g_atomic_int_get(&j->cancelled) || rc == -ECANCELED) {
        /* by us, or by anyone else (virsh domjobabort) */
        status = g_strdup("cancelled");
        ret = -ECANCELED;
    } else {
        line = g_strdelimit(g_strdup(*msg), "\n", ' ');
        status = g_strdup_printf("failed: %s", line);
        ret = -EIO;
    }
    /* the guest may be gone from this host already; then its status goes with it */
    dom_note_migrate(conn_cache(t->src), t->uuid, status);
    conn_refresh_domain(t->src, t->uuid, NULL);
    if (rc == 0 && t->dst && conn_refresh_domain(t->dst, t->uuid, NULL) == 0)
        dom_note_migrate(conn_cache(t->dst), t->uuid, status);
    return ret;
}

int
mig_run(MigTask *t, char **msg)
{
    g_autoptr(virConnect) svc = conn_get_virt(t->src);
    g_autoptr(virConnect) dvc = NULL;
    gint64 t0 = g_get_monotonic_time();
    MigJob *j;
    int rc;
    int ret;

    if (!svc)
        return verr_set(msg, ENOTCONN, "libvirt is not connected (reconnecting)");
    if (t->dst && !(dvc = conn_get_virt(t->dst)))
        return verr_set(msg, ENOTCONN, "destination %s is not connected (reconnecting)",
                        t->req.host);
    j = g_atomic_rc_box_new0(MigJob);
    g_mutex_init(&j->lock);
    g_cond_init(&j->cond);
    j->conn = t->src;
    memcpy(j->uuid, t->uuid, sizeof(j->uuid));
    if (!(j->dom = virDomainLookupByUUIDString(svc, t->uuid))) {
        ret = -verr_take(msg);
    } else if (!mig_register(t->jobs, j)) {
        ret = verr_set(msg, EBUSY, "a migration of this guest is running");
    } else {
        rc = mig_go(t, j, dvc, msg);
        mig_unregister(t->jobs, j);
        ret = mig_conclude(t, j, rc, t0, msg);
    }
    mig_job_unref(j);
    return ret;
}
