/* tree_priv.h - the Tree record and the helpers its modules share: tree.c (the hosts,
 * changes and events), tree_lookup.c (resolving nodes), tree_render.c (contents),
 * tree_file.c (open files), tree_write.c (writes). */
#pragma once

#include "tree.h"

#include "dom_info.h"
#include "host.h"
#include "metrics.h"

struct Tree {
    TreeConfig cfg;           /* a deep copy */
    Host **hosts;
    guint n_hosts;
    bool multi;
    EvStream *top_events;     /* several hosts: every host's lines as <host>/<guest> */
    TreeListener fn;
    void *opaque;
    MetricsCache *metrics;
    gpointer stats_fn;        /* void (*)(int host, void *): read atomically */
    void *stats_opaque;       /* set before stats_fn */
    struct TreeAttempt *attempts;   /* the first connection attempts (tree.c) */
    struct TreeStartup *startup;
};

/* Guest-level files, in listing order. */
typedef enum {
    GF_STATE, GF_REASON, GF_UUID, GF_ID, GF_VCPUS, GF_MEMORY, GF_AUTOSTART,
    GF_PERSISTENT, GF_TITLE, GF_DESCRIPTION, GF_XML, GF_ERROR, GF_CONSOLE, GF_MIGRATE,
    /* statistics (stats_render.h; appended: the indexes above never change) */
    GF_CPU_STAT, GF_VCPU_STAT, GF_MEMORY_STAT, GF_IO_STAT, GF_NET_STAT,
    GF_N
} GuestFile;

typedef struct {
    const char *name;
    bool writable;
    TreeFlavor flavor;
    bool needs_xml;           /* its content comes from the domain XML */
} GuestFileDef;

extern const GuestFileDef tree_guest_files[GF_N];

typedef enum { DF_CONNECTION, DF_EVENTS, DF_METRICS, DF_N } DomfsFile;
extern const char *const tree_domfs_files[DF_N];
extern const TreeFlavor tree_domfs_flavors[DF_N];

#define TREE_DOMFS_DIR ".domfs"
#define TREE_DEVICES_DIR "devices"
#define TREE_AGENT_DIR "agent"

/* Device files that do not come from the device's XML: a disk's sizes (statistics) and an
 * interface's addresses (agent or lease). Their index in a TN_DEV_FILE node follows the
 * kind's XML fields: dev_n_fields(kind) + their position among the kind's extras. */
typedef struct {
    int kind;                 /* DevKind */
    const char *name;
    TreeFlavor flavor;
} TreeDevExtra;
extern const TreeDevExtra tree_dev_extras[];
extern const gsize tree_n_dev_extras;
/* The extra of KIND at position POS among that kind's, or NULL. */
const TreeDevExtra *tree_dev_extra(int kind, int pos);
/* Position of extra NAME among KIND's, or -1. */
int tree_dev_extra_pos(int kind, const char *name);
/* The extra a TN_DEV_FILE node names, or NULL for an XML field. */
const TreeDevExtra *tree_dev_node_extra(const TreeNode *n);
/* Content of a TF_STATS file now (from the host's latest statistics); *FETCHED (may be
 * NULL) gets their fetch time. */
int tree_render_stats(Tree *t, const TreeNode *n, GString *out, gint64 *fetched);

Host *tree_host(Tree *t, int index);
/* The snapshot of N's guest as it stands (a new reference): 0, -ENOENT (gone, or another
 * guest holds the name now), or -EINPROGRESS when N needs the XML and it is not loaded
 * yet (the loader is asked to hurry). */
int tree_snap(Tree *t, const TreeNode *n, DomInfo **out);
/* Does guest-level node N exist in snapshot D; fills ATTR. */
int tree_guest_node_attr(const DomInfo *d, const TreeNode *n, TreeAttr *attr);
/* The text of .domfs/connection for host INDEX (-1: all of them). */
void tree_connection_text(Tree *t, int index, GString *out);
/* The events stream of host INDEX, or the top one (-1). */
EvStream *tree_events(Tree *t, int index);
/* What an open file was opened as (tree_file.c, for tree_write.c). */
const TreeNode *tree_file_node(TreeFile *f);
int tree_file_flags(TreeFile *f);
