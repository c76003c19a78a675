/* mig_run.h - a migration started by a write to `migrate`: run on one of the host's
 * action threads, with its progress published in the guest's snapshot while it runs,
 * cancellable from elsewhere without blocking. */
#pragma once

#include <stddef.h>

#include "conn.h"
#include "mig_host.h"

/* The running migrations of one host (uuid -> job), for `echo cancel` and interrupts. */
typedef struct MigJobs MigJobs;

MigJobs *mig_jobs_new(void);
/* FALSE when a migration is still running (its thread is then left behind). */
gboolean mig_jobs_free(MigJobs *jobs);

typedef struct {
    DomConn *src;
    MigJobs *jobs;              /* the source host's */
    char uuid[VIR_UUID_STRING_BUFLEN];
    MigRequest req;             /* validated (mig_host.c) */
    DomConn *dst;               /* another host of this mount, or NULL: peer-to-peer... */
    char *dest_uri;             /* ...to this URI (built from -o migrate_uri) */
} MigTask;

void mig_task_free(MigTask *t);
/* The migration, in this (action) thread. 0, -ECANCELED (cancelled by us or by anyone
 * else), -EBUSY (one runs already), -EIO and the other libvirt errnos, with *msg. The
 * final status line (completed/cancelled/failed) is published on the source, and after a
 * migration to another host of the mount, `completed` on the destination too. */
int mig_run(MigTask *t, char **msg);
/* Abort the running migration of UUID (echo cancel, or the writer interrupted): the abort
 * call is made on a thread of its own, so this never blocks. 0, or -ESRCH when none runs. */
int mig_cancel(MigJobs *jobs, const char *uuid);
