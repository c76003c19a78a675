/* mig_run.c - runs migrations.
 *
 * The writer's thread makes the one blocking libvirt call. When HOST is the name of
 * another connection of this mount, that connection is the destination and libvirt's
 * client-managed protocol is used (virDomainMigrate3 with both connections); otherwise
 * the source daemon migrates peer-to-peer to the URI built from -o migrate_uri. In both
 * cases the data URI is tcp://HOST, as Nova does, so the destination's own hostname need
 * not resolve. A progress thread polls the job every 500 ms and publishes the `migrate`
 * line in the guest's snapshot, so reading `migrate` never calls libvirt. A registry of
 * running jobs (uuid -> domain) lets `echo cancel` and a FUSE interrupt abort one. */
#include "mig_run.h"

#include <errno.h>
#include <string.h>

#include "dom_action.h"
#include "mig_host.h"
#include "verr.h"

typedef struct {
    DomConn *conn;
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainPtr dom;
    gboolean cancelled;
    gboolean done;
    GMutex lock;
    GCond cond;
} MigJob;

static GMutex mig_jobs_lock;
static GHashTable *mig_jobs;   /* uuid -> MigJob */

static gboolean
mig_job_register(MigJob *job)
{
    gboolean ok;

    g_mutex_lock(&mig_jobs_lock);
    if (!mig_jobs)
        mig_jobs = g_hash_table_new(g_str_hash, g_str_equal);
    ok = !g_hash_table_contains(mig_jobs, job->uuid);
    if (ok)
        g_hash_table_insert(mig_jobs, job->uuid, job);
    g_mutex_unlock(&mig_jobs_lock);
    return ok;
}

static void
mig_job_unregister(MigJob *job)
{
    g_mutex_lock(&mig_jobs_lock);
    g_hash_table_remove(mig_jobs, job->uuid);
    g_mutex_unlock(&mig_jobs_lock);
}

int
mig_cancel(DomConn *c, const char *uuid)
{
    MigJob *job;
    int ret = -ESRCH;

    g_mutex_lock(&mig_jobs_lock);
    job = mig_jobs ? g_hash_table_lookup(mig_jobs, uuid) : NULL;
    if (job && job->conn == c) {
        job->cancelled = TRUE;
        /* under the registry lock: the job (and its domain) cannot go away meanwhile */
        if (virDomainAbortJob(job->dom) < 0)
            virResetLastError();   /* not started yet: the flag stops it */
        ret = 0;
    }
    g_mutex_unlock(&mig_jobs_lock);
    return ret;
}

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
    char *line;

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
    line = g_strdup_printf("running %llu %llu/%llu bytes %.1f MiB/s",
                           total ? (total - MIN(remaining, total)) * 100 / total : 0ULL,
                           processed, total, bps / 1048576.0);
    return line;
}

static gpointer
mig_progress_main(gpointer data)
{
    MigJob *job = data;

    g_mutex_lock(&job->lock);
    while (!job->done) {
        gint64 until = g_get_monotonic_time() + 500 * G_TIME_SPAN_MILLISECOND;
        g_autofree char *line = NULL;

        g_mutex_unlock(&job->lock);
        line = mig_progress_line(job->dom);
        g_mutex_lock(&job->lock);
        if (line && !job->done)
            conn_set_migrate_status(job->conn, job->uuid, line);
        g_cond_wait_until(&job->cond, &job->lock, until);
    }
    g_mutex_unlock(&job->lock);
    return NULL;
}

static unsigned long
mig_flags(const MigRequest *req)
{
    unsigned long flags = 0;

    if (req->offline)
        flags |= VIR_MIGRATE_OFFLINE;
    else
        flags |= VIR_MIGRATE_LIVE;
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

static DomConn *
mig_find_conn(const MigEnv *env, DomConn *src, const char *host)
{
    for (unsigned int i = 0; i < env->n_conns; i++) {
        if (env->conns[i] != src && strcmp(conn_name(env->conns[i]), host) == 0)
            return env->conns[i];
    }
    return NULL;
}

/* The one blocking call. DVC: the destination connection of this mount, or NULL to
 * migrate peer-to-peer to DEST_URI. 0 or -1 with libvirt's error set. */
static int
mig_perform(MigJob *job, const MigRequest *req, virConnectPtr dvc, const char *dest_uri)
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
        if (virTypedParamsAddString(&params, &nparams, &maxparams,
                                    VIR_MIGRATE_PARAM_URI, data_uri) < 0)
            goto cleanup;
    }
    if (req->bandwidth_mib &&
        virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                req->bandwidth_mib) < 0)
        goto cleanup;
    if (dvc) {
        virDomainPtr moved = virDomainMigrate3(job->dom, dvc, params, nparams, flags);

        if (moved) {
            virDomainFree(moved);
            ret = 0;
        }
    } else {
        ret = virDomainMigrateToURI3(job->dom, dest_uri, params, nparams,
                                     flags | VIR_MIGRATE_PEER2PEER);
    }

 cleanup:
    virTypedParamsFree(params, nparams);
    return ret;
}

/* Run the migration of D described by REQ; publishes the final status line. */
static int
mig_run(DomConn *c, const DomInfo *d, const MigEnv *env, const MigRequest *req)
{
    MigJob job = { .conn = c };
    DomConn *dest = mig_find_conn(env, c, req->host);
    virConnectPtr dvc = NULL;
    g_autofree char *dest_uri = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *status = NULL;
    GThread *progress = NULL;
    gint64 t0 = g_get_monotonic_time();
    int rc;
    int ret;

    memcpy(job.uuid, d->uuid, sizeof(job.uuid));
    if (dest) {
        if (!(dvc = conn_get_virt(dest)))
            return act_refuse(c, d, "migrate", ENOTCONN, "destination %s is not connected "
                              "(reconnecting)", req->host);
    } else if (!(dest_uri = mig_uri_build(env->uri_template, req))) {
        return act_refuse(c, d, "migrate", EINVAL, "migrate_uri template '%s' is invalid",
                          env->uri_template);
    }
    if (!(job.dom = act_lookup(c, d, "migrate", &ret)))
        goto cleanup;
    if (!mig_job_register(&job)) {
        ret = act_refuse(c, d, "migrate", EBUSY, "a migration of this guest is running");
        goto cleanup;
    }
    g_mutex_init(&job.lock);
    g_cond_init(&job.cond);
    conn_set_migrate_status(c, d->uuid, "running 0 0/0 bytes 0.0 MiB/s");
    progress = g_thread_new("migrate-progress", mig_progress_main, &job);

    rc = mig_perform(&job, req, dvc, dest_uri);
    if (rc < 0)
        ret = -verr_take(&msg);

    g_mutex_lock(&job.lock);
    job.done = TRUE;
    g_cond_signal(&job.cond);
    g_mutex_unlock(&job.lock);
    g_thread_join(progress);
    mig_job_unregister(&job);

    if (rc == 0) {
        status = g_strdup_printf("completed %s %.1fs", req->host,
                                 (g_get_monotonic_time() - t0) / (double)G_USEC_PER_SEC);
        ret = 0;
    } else if (job.cancelled || ret == -ECANCELED) {
        /* by us, or by anyone else (virsh domjobabort) */
        status = g_strdup("cancelled");
        conn_record_error(c, d->uuid, "migrate", ECANCELED, msg);
        ret = -ECANCELED;
    } else {
        g_autofree char *line = g_strdup(msg);

        status = g_strdup_printf("failed: %s", g_strdelimit(line, "\n", ' '));
        conn_record_error(c, d->uuid, "migrate", EIO, msg);
        ret = -EIO;
    }
    /* the guest may be gone from this host already; then its status goes with it */
    conn_set_migrate_status(c, d->uuid, status);
    conn_refresh_domain(c, d->uuid, NULL);
    g_mutex_clear(&job.lock);
    g_cond_clear(&job.cond);

 cleanup:
    if (job.dom)
        virDomainFree(job.dom);
    if (dvc)
        virConnectClose(dvc);
    return ret;
}

int
mig_write(DomConn *c, const DomInfo *d, const MigEnv *env, const char *buf, size_t len)
{
    MigRequest req = { 0 };
    g_autofree char *errmsg = NULL;
    int ret;

    if (len > ACT_WRITE_MAX)
        return act_refuse(c, d, "migrate", EFBIG, "write of %zu bytes refused: at most %d",
                          len, ACT_WRITE_MAX);
    if (mig_request_is_cancel(buf, len)) {
        if (mig_cancel(c, d->uuid) < 0)
            return act_refuse(c, d, "migrate", EINVAL, "no migration of this guest is "
                              "running");
        return 0;
    }
    if (mig_request_parse(buf, len, &req, &errmsg) < 0)
        return act_refuse(c, d, "migrate", EINVAL, "%s", errmsg);
    ret = mig_run(c, d, env, &req);
    mig_request_clear(&req);
    return ret;
}
