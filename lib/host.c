/* host.c - see host.h. */
#define G_LOG_DOMAIN "domfs-host"

#include "host.h"

#include <errno.h>
#include <string.h>

#include "agent_info.h"
#include "domfs_limits.h"
#include "log.h"
#include "mig_run.h"
#include "name_escape.h"

struct Host {
    guint index;
    char *name;                 /* directory name; set by host_set_name */
    char *cfg_name;             /* -c NAME, or NULL */
    char *uri;
    char *note;                 /* an extra line of .domfs/connection, or NULL (atomic:
                                 * set once by host_start, read by readers meanwhile) */
    ConsPolicy policy;
    guint64 console_max;
    gint logs_unreadable;       /* remote without a log root: console.log is empty
                                 * (atomic, like note) */
    DomConn *conn;
    ConsRegistry *consoles;
    EvStream *events;
    Stats *stats;
    Agent *agent;
    HostStatsListener stats_fn;
    void *stats_opaque;
    JobRunner *jobs;
    MigJobs *migrations;
    HostListener fn;
    void *opaque;
};

static void
host_on_change(const DomChange *ch, void *opaque)
{
    Host *h = opaque;

    /* an agent that just connected: fetch its data now rather than at the next pass */
    if (ch->new_info && ch->new_info->agent_state == AGENT_CONNECTED &&
        (!ch->old_info || ch->old_info->agent_state != AGENT_CONNECTED))
        agent_hint(h->agent, ch->new_info->uuid);
    if (h->fn)
        h->fn(h, ch, h->opaque);
}

static void
host_on_stats(StatsSnap *snap, void *opaque)
{
    Host *h = opaque;

    if (h->stats_fn)
        h->stats_fn(h, h->stats_opaque);
}

void
host_set_stats_listener(Host *h, HostStatsListener fn, void *opaque)
{
    h->stats_fn = fn;
    h->stats_opaque = opaque;
}

Host *
host_new(guint index, const HostConfig *cfg, HostListener fn, void *opaque)
{
    Host *h = g_new0(Host, 1);
    ConnConfig cc = {
        cfg->uri, cfg->keepalive_interval, cfg->keepalive_count, host_on_change, h,
    };

    h->index = index;
    h->cfg_name = g_strdup(cfg->name);
    h->uri = g_strdup(cfg->uri);
    h->fn = fn;
    h->opaque = opaque;
    h->policy.log_dirs = g_strdupv(cfg->log_dirs);
    h->policy.log_root = g_strdup(cfg->log_root);
    h->conn = conn_new(&cc);
    h->console_max = cfg->console_max;
    h->consoles = cons_registry_new(&h->policy, cfg->console_max);
    h->events = ev_stream_new(DOMFS_EVENTS_RING);
    h->stats = stats_new(h->conn, cfg->stats_interval, host_on_stats, h);
    h->agent = agent_new(h->conn, cfg->agent_interval);
    h->jobs = job_runner_new(cfg->uri ? cfg->uri : "libvirt", DOMFS_HOST_ACTION_THREADS);
    h->migrations = mig_jobs_new();
    return h;
}

int
host_connect(Host *h, char **errmsg)
{
    return conn_connect(h->conn, errmsg);
}

void
host_start(Host *h)
{
    /* a remote host's log paths mean nothing here without a log root */
    if (!h->policy.log_root && conn_is_remote(h->conn)) {
        g_atomic_pointer_set(&h->note, g_strdup("console unavailable: remote connection "
                                                "without a log root (--log-root NAME=DIR)"));
        g_atomic_int_set(&h->logs_unreadable, 1);
    }
    conn_start(h->conn);
    stats_start(h->stats);
    agent_start(h->agent);
}

gboolean
host_free(Host *h)
{
    gboolean ok;

    if (!h)
        return TRUE;
    ok = job_runner_free(h->jobs);
    ok = stats_free(h->stats) && ok;
    ok = agent_free(h->agent) && ok;
    ok = ok && mig_jobs_free(h->migrations);
    /* a thread stuck in a call still uses the connection: then leave it all behind */
    if (!ok || !conn_close(h->conn))
        return FALSE;
    cons_registry_free(h->consoles);
    ev_stream_free(h->events);
    g_strfreev(h->policy.log_dirs);
    g_free(h->policy.log_root);
    g_free(h->name);
    g_free(h->cfg_name);
    g_free(h->uri);
    g_free(h->note);
    g_free(h);
    return TRUE;
}

guint
host_index(Host *h)
{
    return h->index;
}

const char *
host_name(Host *h)
{
    return h->name;
}

void
host_set_name(Host *h, const char *name)
{
    g_free(h->name);
    h->name = g_strdup(name);
}

char *
host_wanted_name(Host *h)
{
    g_autofree char *hostname = conn_hostname(h->conn);
    g_autoptr(GUri) uri = NULL;

    if (h->cfg_name)
        return name_escape(h->cfg_name);
    if (hostname && *hostname)
        return name_escape(hostname);
    uri = h->uri ? g_uri_parse(h->uri, G_URI_FLAGS_NON_DNS, NULL) : NULL;
    if (uri && g_uri_get_host(uri) && *g_uri_get_host(uri))
        return name_escape(g_uri_get_host(uri));
    return g_strdup("localhost");
}

void
host_set_log_root(Host *h, const char *dir)
{
    g_free(h->policy.log_root);
    h->policy.log_root = g_strdup(dir);
    cons_registry_free(h->consoles);
    h->consoles = cons_registry_new(&h->policy, h->console_max);
}

DomConn *
host_conn(Host *h)
{
    return h->conn;
}

DomCache *
host_cache(Host *h)
{
    return conn_cache(h->conn);
}

EvStream *
host_events(Host *h)
{
    return h->events;
}

JobRunner *
host_jobs(Host *h)
{
    return h->jobs;
}

Agent *
host_agent(Host *h)
{
    return h->agent;
}

Stats *
host_stats(Host *h)
{
    return h->stats;
}

MigJobs *
host_migrations(Host *h)
{
    return h->migrations;
}

int
host_console(Host *h, const DomInfo *d, ConsLog **out)
{
    g_autofree char *local = NULL;
    g_autofree char *why = NULL;
    g_autofree char *key = NULL;

    *out = NULL;
    if (!d->console_log || !*d->console_log || g_atomic_int_get(&h->logs_unreadable))
        return 0;
    if (cons_resolve(&h->policy, d->console_log, &local, &why) < 0) {
        key = g_strdup_printf("console %u %s %s", h->index, d->uuid, why);
        if (log_once(key))
            g_warning("%s: %s: %s", h->name, d->name, why);
        return -EACCES;
    }
    key = g_strdup_printf("%s: %s", h->name, d->name);
    *out = cons_registry_get(h->consoles, local, key);
    return 0;
}

void
host_describe(Host *h, GString *out)
{
    const char *note = g_atomic_pointer_get(&h->note);

    g_string_append_printf(out, "name %s\n", h->name ? h->name : "");
    conn_describe(h->conn, out);
    if (note)
        g_string_append_printf(out, "%s\n", note);
}
