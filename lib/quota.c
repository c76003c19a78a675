/* quota.c - a table uid -> units held per kind, under one mutex (taken once per waiting
 * request, never while anything else is held). Entries at zero are removed. */
#define G_LOG_DOMAIN "domfs-quota"

#include "quota.h"

#include "domfs_limits.h"

typedef struct {
    guint held[QUOTA_N_KINDS];
} QuotaEntry;

static GMutex quota_lock;          /* guards both below */
static GHashTable *quota_by_uid;   /* uid -> QuotaEntry */
static guint quota_limits[QUOTA_N_KINDS] = {
    [QUOTA_WAITS] = DOMFS_WAITS_PER_UID,
    [QUOTA_WRITES] = DOMFS_WRITES_PER_UID,
    [QUOTA_OPENS] = DOMFS_OPENS_PER_UID,
};

gboolean
quota_take(QuotaKind kind, uid_t uid)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&quota_lock);
    QuotaEntry *e;

    if (!quota_by_uid)
        quota_by_uid = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    e = g_hash_table_lookup(quota_by_uid, GUINT_TO_POINTER(uid));
    if (!e) {
        e = g_new0(QuotaEntry, 1);
        g_hash_table_insert(quota_by_uid, GUINT_TO_POINTER(uid), e);
    }
    if (e->held[kind] >= quota_limits[kind])
        return FALSE;
    e->held[kind]++;
    return TRUE;
}

void
quota_release(QuotaKind kind, uid_t uid)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&quota_lock);
    QuotaEntry *e = quota_by_uid ? g_hash_table_lookup(quota_by_uid, GUINT_TO_POINTER(uid))
                                 : NULL;
    guint total = 0;

    if (!e || e->held[kind] == 0)
        return;
    e->held[kind]--;
    for (int k = 0; k < QUOTA_N_KINDS; k++)
        total += e->held[k];
    if (total == 0)
        g_hash_table_remove(quota_by_uid, GUINT_TO_POINTER(uid));
}

guint
quota_held(QuotaKind kind, uid_t uid)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&quota_lock);
    QuotaEntry *e = quota_by_uid ? g_hash_table_lookup(quota_by_uid, GUINT_TO_POINTER(uid))
                                 : NULL;

    return e ? e->held[kind] : 0;
}

void
quota_set_limit(QuotaKind kind, guint limit)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&quota_lock);

    quota_limits[kind] = limit;
}
