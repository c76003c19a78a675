/* cons_log.h - console.log: the bounded, streaming tail of a virtlogd-written serial log,
 * read across virtlogd's rotations (NAME, NAME.0, NAME.1, ...), confined to the allowed log
 * directories. No FUSE in here: fs/ maps FUSE open/read/getattr/release onto it. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

/* Where logs may be read from. */
typedef struct {
    char **log_dirs;  /* NULL-terminated; absolute directories as the libvirt host names them */
    char *log_root;   /* NULL: the paths are local. Else: a path inside a log_dirs entry D,
                       * D/X, is read as log_root/X, confined to log_root */
} ConsPolicy;

/* Map the <log file=...> path of a domain XML to the local path to read. -EACCES (with
 * *errmsg) when the path is not absolute, not normalised ("..", "//" or "." components),
 * or not inside an allowed directory. */
int cons_resolve(const ConsPolicy *policy, const char *xml_path, char **local_path,
                 char **errmsg);

/* One tracked log (a local path as cons_resolve returned it), shared by every open handle
 * of that log; thread-safe. The registry keeps one ConsLog per path. */
typedef struct ConsLog ConsLog;
typedef struct ConsRegistry ConsRegistry;
typedef struct ConsHandle ConsHandle;

ConsRegistry *cons_registry_new(const ConsPolicy *policy, uint64_t max_bytes);
void cons_registry_free(ConsRegistry *reg);
/* Look up or create the ConsLog of LOCAL_PATH (a cons_resolve result). Never fails. */
ConsLog *cons_registry_get(ConsRegistry *reg, const char *local_path);

/* Size for stat: see cons_log.c for the coordinate rules. 0 when no log exists.
 * -EACCES when the file is not a regular file inside the confinement. */
int cons_log_size(ConsLog *log, uint64_t *size);
int cons_open(ConsLog *log, ConsHandle **out);
/* Bytes at handle offset OFF; 0 at the current end (the handle grows as the log grows). */
ssize_t cons_read(ConsHandle *h, uint64_t off, char *buf, size_t size);
void cons_close(ConsHandle *h);

/* Tuning and test hooks (not needed by fs/). */
/* Bound the registry to MAX_LOGS logs (default 4096); a log may be evicted when it has no
 * open handle and was last used IDLE_USEC ago or earlier (default 60 s), so that a
 * ConsLog pointer obtained just before stays valid while it is being used. */
void cons_registry_set_limits(ConsRegistry *reg, guint max_logs, gint64 idle_usec);
guint cons_registry_count(ConsRegistry *reg);
/* TRUE: resolve paths with the openat(2) component walk, as on kernels without
 * openat2(2) (the fallback is otherwise only taken on ENOSYS). */
void cons_force_walk(gboolean force);
