/* mig_run.h - a migration started by a write to `migrate`: blocking, with its progress
 * published in the guest's snapshot while it runs, cancellable from elsewhere. */
#pragma once

#include <stddef.h>

#include "conn.h"
#include "dom_info.h"

typedef struct {
    const char *uri_template;   /* -o migrate_uri, %h = host */
    DomConn **conns;            /* every connection of the mount */
    unsigned int n_conns;
} MigEnv;

/* Handle a write to `migrate`: "cancel", or "HOST [options]" (validated by mig_host.c
 * before anything reaches libvirt). Blocks until the migration ends. 0 on success;
 * -EINVAL bad input, -EIO failure, -ECANCELED cancelled; the message is in `error`. */
int mig_write(DomConn *c, const DomInfo *d, const MigEnv *env, const char *buf, size_t len);
/* Abort the running migration of guest UUID (echo cancel, or the writer interrupted).
 * 0, or -ESRCH when none runs. */
int mig_cancel(DomConn *c, const char *uuid);
