/* dev_model.h - domain XML to a device model (libxml2), pure and thread-safe.
 *
 * The model is what devices/ shows: for each kind of device a list of entries in
 * document order, each with a directory name and one value per file of that kind.
 */
#pragma once

#include <glib.h>

typedef enum {
    DEV_DISK,
    DEV_SERIAL,
    DEV_IFACE,
    DEV_N_KINDS
} DevKind;

typedef struct {
    char *name;     /* directory name, already escaped with name_escape() */
    char **values;  /* one per dev_fields(kind) entry, never NULL ("" when absent),
                     * without trailing newline; the last field is "xml" */
} DevEntry;

typedef struct DevModel {
    GPtrArray *entries[DEV_N_KINDS];  /* of DevEntry *, document order */
} DevModel;

/* "disks", "serial", "interfaces" */
const char *dev_kind_dir(DevKind kind);
/* -1 when NAME is not a kind directory */
int dev_kind_from_dir(const char *name);
/* NULL-terminated, fixed list of the file names of KIND (spec order, "xml" last) */
const char *const *dev_fields(DevKind kind);
size_t dev_n_fields(DevKind kind);
/* index into dev_fields(KIND), or -1 */
int dev_field_index(DevKind kind, const char *field);

/* Parse a whole <domain> document. 0 and *out set on success; -EINVAL on malformed or
 * oversized input (never crashes). */
int dev_model_parse(const char *xml, size_t len, DevModel **out);
void dev_model_free(DevModel *model);
const DevEntry *dev_model_find(const DevModel *model, DevKind kind, const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DevModel, dev_model_free)
