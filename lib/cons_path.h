/* cons_path.h - which console log a guest's XML may name, and where it is read here.
 *
 * Why: the <log file=...> path comes from the domain XML, which whoever defines domains
 * controls. Only paths inside -o log_dirs are accepted, and with a log root (a libvirtd in
 * another mount namespace, or another host) such a path D/X is read as LOG_ROOT/X. */
#pragma once

#include <glib.h>

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
/* PATH quoted for a message: control bytes escaped, so a hostile XML cannot forge lines in
 * an error file or a log; UTF-8 left readable. */
char *cons_quote(const char *path);
