/* metrics.c - Prometheus text format (version 0.0.4) rendered from the domain caches:
 * one HELP/TYPE block per metric family, then one sample per guest labelled by host and
 * name. Label values are escaped as the format requires (backslash, quote, newline). */
#include "metrics.h"

#include "state_word.h"

static void
metrics_label(GString *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

static void
metrics_labels(GString *out, const char *host, const DomInfo *d)
{
    g_string_append(out, "{host=\"");
    metrics_label(out, host);
    g_string_append(out, "\",name=\"");
    metrics_label(out, d->name);
    g_string_append(out, "\"");
}

typedef enum { MET_STATE, MET_UP, MET_VCPUS, MET_MEMORY, MET_N } MetricFamily;

static const struct {
    const char *name;
    const char *help;
} metric_families[MET_N] = {
    [MET_STATE] = { "domfs_guest_state", "Guest state (1 for the state the guest is in)." },
    [MET_UP] = { "domfs_guest_running", "1 when the guest is running, else 0." },
    [MET_VCPUS] = { "domfs_guest_vcpus", "Current number of virtual CPUs." },
    [MET_MEMORY] = { "domfs_guest_memory_bytes", "Current memory of the guest in bytes." },
};

static void
metrics_sample(GString *out, MetricFamily fam, const char *host, const DomInfo *d)
{
    g_string_append(out, metric_families[fam].name);
    metrics_labels(out, host, d);
    switch (fam) {
    case MET_STATE:
        g_string_append_printf(out, ",state=\"%s\"} 1\n", state_name(d->state));
        break;
    case MET_UP:
        g_string_append_printf(out, "} %d\n", d->state == 1 ? 1 : 0);
        break;
    case MET_VCPUS:
        g_string_append_printf(out, "} %u\n", d->vcpus);
        break;
    case MET_MEMORY:
        g_string_append_printf(out, "} %llu\n", d->memory_kib * 1024ULL);
        break;
    default:
        break;
    }
}

int
metrics_render(Tree *t, int conn, GString *out)
{
    guint first = conn >= 0 ? (guint)conn : 0;
    guint last = conn >= 0 ? (guint)conn + 1 : tree_n_conns(t);
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);

    for (guint i = first; i < last; i++)
        g_ptr_array_add(all, dom_cache_list(conn_cache(tree_conn(t, (int)i))));
    for (int fam = 0; fam < MET_N; fam++) {
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s gauge\n",
                               metric_families[fam].name, metric_families[fam].help,
                               metric_families[fam].name);
        for (guint i = 0; i < all->len; i++) {
            GPtrArray *doms = g_ptr_array_index(all, i);
            const char *host = conn_name(tree_conn(t, (int)(first + i)));

            for (guint j = 0; j < doms->len; j++)
                metrics_sample(out, fam, host, g_ptr_array_index(doms, j));
        }
    }
    return 0;
}
