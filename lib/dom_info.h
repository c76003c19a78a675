/* dom_info.h - an immutable, reference-counted snapshot of one domain: everything the
 * files of a guest directory show. The cache swaps whole snapshots, so a reader holding
 * one never sees a half-updated guest. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

typedef struct DevModel DevModel;

typedef struct {
    char uuid[VIR_UUID_STRING_BUFLEN];
    char *name;
    char *dirname;          /* name_escape(name) */
    int id;                 /* -1 when not running */
    int state;              /* virDomainState */
    int reason;
    unsigned int vcpus;
    unsigned long long memory_kib;
    gboolean autostart;
    gboolean persistent;
    char *title;            /* "" when none */
    char *description;
    char *xml;              /* live XML, or inactive XML when shut off */
    char *console_log;      /* <log file> of the first serial port, else of the console */
    char *error;            /* last failed write: "time file: message", or NULL */
    char *migrate;          /* migrate status line, "none" by default */
    gint64 error_serial;    /* bumps with each recorded error */
    /* The XML and what comes from it (title, description, console_log, devices) are
     * valid: the start-up load publishes snapshots without them and fetches them in the
     * background (see conn.c); readers of those files wait for them. */
    gboolean loaded;
    gboolean counts_from_xml;  /* vcpus/memory too come from the XML (the stats lacked them) */
    /* parsed on first use; see dom_info_devices() */
    gpointer devices_once;
} DomInfo;

DomInfo *dom_info_new(void);
DomInfo *dom_info_ref(DomInfo *d);
void dom_info_unref(DomInfo *d);
/* A copy sharing nothing mutable; the device model is re-parsed lazily. */
DomInfo *dom_info_copy(const DomInfo *d);
/* Fill title, description, and (when UNSET) vcpus/memory from the XML. */
void dom_info_fill_from_xml(DomInfo *d, gboolean vcpus_unset, gboolean memory_unset);
/* The device model of the snapshot's XML (an empty model when it cannot be parsed). */
const DevModel *dom_info_devices(const DomInfo *d);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomInfo, dom_info_unref)
