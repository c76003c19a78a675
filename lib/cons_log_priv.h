/* cons_log_priv.h - the ConsLog record, shared by cons_log.c (one log) and
 * cons_registry.c (the table of logs and the daemon-wide descriptor cache). */
#pragma once

#include "cons_fdc.h"
#include "cons_log.h"
#include "cons_seg.h"

struct ConsLog {
    GMutex lock;      /* guards everything below and the log's handles */
    char *path;       /* the registry's key */
    char *root;       /* confinement root as configured; NULL: the path is refused */
    char *root_real;  /* realpath of root, NULL until it resolved */
    char *dir_rel;    /* the log's directory below root; NULL: root itself */
    char *base;       /* NAME */
    uint64_t max_bytes;
    ConsSegs segs;
    uint64_t pin;     /* P, valid while n_open > 0 */
    guint n_open;
    gint64 last_used;
    const char *warned; /* reason last logged; NULL after a good refresh */
    char *label;      /* "HOST: GUEST" of the first guest that named it, for the log */
};

/* The daemon-wide cache of log file descriptors (cons_registry.c). */
ConsFdCache *cons_fdc_global(void);
ConsLog *cons_log_new(const char *path, const char *root, const char *rest,
                      uint64_t max_bytes);
void cons_log_free(gpointer log);
