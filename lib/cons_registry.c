/* cons_registry.c - the table of tracked logs of one host (path -> ConsLog), bounded with
 * idle eviction, and the daemon-wide cache of their descriptors. */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_log_priv.h"

#include "domfs_limits.h"
#include "open_beneath.h"

struct ConsRegistry {
    GMutex lock;       /* guards everything below; taken before a log's lock */
    char **log_dirs;   /* normalised; invalid entries left out */
    char *log_root;    /* normalised, or NULL */
    gboolean root_bad; /* log_root was given but is unusable: refuse everything */
    uint64_t max_bytes;
    guint max_logs;
    gint64 idle_usec;
    GHashTable *logs;  /* path -> ConsLog */
};

ConsFdCache *
cons_fdc_global(void)
{
    static gsize once;
    static ConsFdCache *cache;

    if (g_once_init_enter(&once)) {
        cache = cons_fdc_new(DOMFS_CONSOLE_FD_CACHE);
        g_once_init_leave(&once, 1);
    }
    return cache;
}

guint
cons_open_descriptors(void)
{
    return cons_fdc_count(cons_fdc_global());
}

ConsRegistry *
cons_registry_new(const ConsPolicy *policy, uint64_t max_bytes)
{
    ConsRegistry *reg = g_new0(ConsRegistry, 1);
    g_autoptr(GStrvBuilder) dirs = g_strv_builder_new();

    g_mutex_init(&reg->lock);
    for (gsize i = 0; policy && policy->log_dirs && policy->log_dirs[i]; i++) {
        g_autofree char *d = path_dir_normalise(policy->log_dirs[i]);

        if (d)
            g_strv_builder_add(dirs, d);
        else
            g_warning("log_dirs entry \"%s\" ignored: not an absolute, normalised directory",
                      policy->log_dirs[i]);
    }
    reg->log_dirs = g_strv_builder_end(dirs);
    if (policy && policy->log_root) {
        reg->log_root = path_dir_normalise(policy->log_root);
        reg->root_bad = reg->log_root == NULL;
    }
    reg->max_bytes = max_bytes;
    reg->max_logs = DOMFS_CONSOLE_MAX_LOGS;
    reg->idle_usec = DOMFS_CONSOLE_IDLE_US;
    reg->logs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, cons_log_free);
    return reg;
}

void
cons_registry_free(ConsRegistry *reg)
{
    if (!reg)
        return;
    g_hash_table_destroy(reg->logs);
    g_strfreev(reg->log_dirs);
    g_free(reg->log_root);
    g_mutex_clear(&reg->lock);
    g_free(reg);
}

void
cons_registry_set_limits(ConsRegistry *reg, guint max_logs, gint64 idle_usec)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&reg->lock);

    reg->max_logs = MAX(max_logs, 1);
    reg->idle_usec = MAX(idle_usec, 0);
}

guint
cons_registry_count(ConsRegistry *reg)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&reg->lock);

    return g_hash_table_size(reg->logs);
}

/* A new log for PATH, confined to the registry's root for it (none: refused). */
static ConsLog *
cons_registry_new_log(ConsRegistry *reg, const char *path)
{
    const char *why = NULL;
    const char *root = NULL;
    const char *rest = NULL;

    if (!reg->root_bad && path_check_normal(path, &why) == 0) {
        if (reg->log_root) {
            rest = path_under(reg->log_root, path);
            root = rest ? reg->log_root : NULL;
        } else {
            root = path_best_dir(reg->log_dirs, path, &rest);
        }
    }
    return cons_log_new(path, root, rest, reg->max_bytes);
}

/* Make room for one more log: drop the least recently used one that no handle holds and
 * nobody used for idle_usec. When there is none the table grows past max_logs: every log
 * then has an open handle or was used just now, both bounded by the callers. */
static void
cons_registry_evict(ConsRegistry *reg)
{
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer value;
    ConsLog *victim = NULL;
    gint64 victim_used = 0;

    g_hash_table_iter_init(&it, reg->logs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        ConsLog *log = value;
        gboolean idle;
        gint64 used;

        g_mutex_lock(&log->lock);
        used = log->last_used;
        idle = log->n_open == 0 && now - used >= reg->idle_usec;
        g_mutex_unlock(&log->lock);
        if (idle && (!victim || used < victim_used)) {
            victim = log;
            victim_used = used;
        }
    }
    if (victim)
        g_hash_table_remove(reg->logs, victim->path);
}

ConsLog *
cons_registry_get(ConsRegistry *reg, const char *local_path, const char *label)
{
    const char *path = local_path ? local_path : "";
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&reg->lock);
    ConsLog *log = g_hash_table_lookup(reg->logs, path);

    if (!log) {
        if (g_hash_table_size(reg->logs) >= reg->max_logs)
            cons_registry_evict(reg);
        log = cons_registry_new_log(reg, path);
        g_hash_table_insert(reg->logs, log->path, log);
    }
    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    if (!log->label && label)
        log->label = g_strdup(label);
    g_mutex_unlock(&log->lock);
    return log;
}
