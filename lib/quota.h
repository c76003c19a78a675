/* quota.h - what one user may hold inside domfs at a time.
 *
 * Why: a request that waits (a blocked read, a write waiting for libvirt) costs domfs
 * memory and bookkeeping; without a bound per user, one user's thousands of readers or
 * writers could starve everybody else. Each kind has its own per-uid limit
 * (domfs_limits.h); taking beyond it fails and the request gets EAGAIN. */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef enum {
    QUOTA_WAITS,    /* blocked reads, lookups waiting for a guest's XML */
    QUOTA_WRITES,   /* writes waiting for libvirt */
    QUOTA_OPENS,    /* open files (tree_open; -EMFILE beyond) */
    QUOTA_N_KINDS
} QuotaKind;

/* Take one unit of KIND for UID: TRUE, or FALSE when UID holds its limit already. */
gboolean quota_take(QuotaKind kind, uid_t uid);
void quota_release(QuotaKind kind, uid_t uid);
/* Units UID holds now (tests, .domfs/connection). */
guint quota_held(QuotaKind kind, uid_t uid);
/* Override a limit (tests). */
void quota_set_limit(QuotaKind kind, guint limit);
