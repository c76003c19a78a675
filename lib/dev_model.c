/* dev_model.c - domain XML to the devices/ model (see dev_model.h).
 *
 * How it works: dev_xml_read() parses the whole document once with libxml2, locked down
 * (no network, no entity substitution, a DOCTYPE stops the parser, libxml2's default
 * depth and size limits, 16 MiB at most). Only the element children of the first
 * /domain/devices are looked at, never anything nested deeper, so a <disk> inside
 * <metadata> or inside another device is not a device. Each <disk>, <serial> and
 * <interface> becomes a DevEntry; a small function per kind reads the values from the
 * element's own attributes and direct children, and the "xml" value is the element
 * serialized straight from the parsed document.
 *
 * Directory names: the raw name (disk: <target dev>, or "disk<N>" without one; serial:
 * <target port>, or its index among the serials; interface: its index) goes through
 * name_escape(). A name already taken in the same kind gets "~2", "~3", ... in document
 * order, so the first device keeps the plain name and every name stays unique.
 *
 * Values are copies (g_malloc) so the libxml2 document is freed before returning; a
 * value never ends in a newline: the file system layer adds exactly one.
 */
#define G_LOG_DOMAIN "domfs-dev"

#include "dev_model.h"
#include "dev_xml.h"
#include "name_escape.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

enum {
    DISK_DEVICE, DISK_BUS, DISK_MODEL, DISK_SOURCE, DISK_TYPE, DISK_FORMAT, DISK_CACHE,
    DISK_DISCARD, DISK_SERIAL, DISK_WWN, DISK_READONLY, DISK_SHAREABLE, DISK_BOOT_ORDER,
    DISK_ADDRESS, DISK_ALIAS, DISK_TRAY, DISK_XML, DISK_N
};
static const char *const disk_fields[] = {
    "device", "bus", "model", "source", "type", "format", "cache", "discard", "serial",
    "wwn", "readonly", "shareable", "boot_order", "address", "alias", "tray", "xml", NULL
};
G_STATIC_ASSERT(G_N_ELEMENTS(disk_fields) == DISK_N + 1);

enum {
    SER_TYPE, SER_TARGET_TYPE, SER_TARGET_MODEL, SER_SOURCE, SER_MODE, SER_LOG,
    SER_LOG_APPEND, SER_ALIAS, SER_TTY, SER_XML, SER_N
};
static const char *const serial_fields[] = {
    "type", "target_type", "target_model", "source", "mode", "log", "log_append", "alias",
    "tty", "xml", NULL
};
G_STATIC_ASSERT(G_N_ELEMENTS(serial_fields) == SER_N + 1);

enum {
    IF_TYPE, IF_SOURCE, IF_MAC, IF_MODEL, IF_TARGET, IF_LINK_STATE, IF_ALIAS, IF_XML, IF_N
};
static const char *const iface_fields[] = {
    "type", "source", "mac", "model", "target", "link_state", "alias", "xml", NULL
};
G_STATIC_ASSERT(G_N_ELEMENTS(iface_fields) == IF_N + 1);

static const char *const kind_dirs[DEV_N_KINDS] = { "disks", "serial", "interfaces" };
/* the element each kind comes from */
static const char *const kind_elements[DEV_N_KINDS] = { "disk", "serial", "interface" };
static const char *const *const kind_fields[DEV_N_KINDS] = {
    disk_fields, serial_fields, iface_fields
};
static const size_t kind_n_fields[DEV_N_KINDS] = { DISK_N, SER_N, IF_N };

const char *
dev_kind_dir(DevKind kind)
{
    return (unsigned)kind < DEV_N_KINDS ? kind_dirs[kind] : NULL;
}

int
dev_kind_from_dir(const char *name)
{
    for (int k = 0; name && k < DEV_N_KINDS; k++)
        if (strcmp(name, kind_dirs[k]) == 0)
            return k;
    return -1;
}

const char *const *
dev_fields(DevKind kind)
{
    return (unsigned)kind < DEV_N_KINDS ? kind_fields[kind] : NULL;
}

size_t
dev_n_fields(DevKind kind)
{
    return (unsigned)kind < DEV_N_KINDS ? kind_n_fields[kind] : 0;
}

int
dev_field_index(DevKind kind, const char *field)
{
    const char *const *fields = dev_fields(kind);

    for (int i = 0; fields && field && fields[i]; i++)
        if (strcmp(fields[i], field) == 0)
            return i;
    return -1;
}

/* ---- small tree helpers ---------------------------------------------------------- */


static gboolean
prop_is(const xmlNode *n, const char *name, const char *value)
{
    g_autofree char *v = dev_xml_prop(n, name);

    return v && strcmp(v, value) == 0;
}

static char *
child_text(const xmlNode *parent, const char *name)
{
    xmlNode *n = dev_xml_child(parent, name);
    xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

static gboolean
streq0(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* Numbers in addresses are read the way libvirt reads them (strtoul base 0: "0x" hex,
 * leading "0" octal, else decimal); an absent attribute is 0, as in libvirt. */
static gboolean
addr_num(const xmlNode *addr, const char *name, unsigned long max, unsigned long *out)
{
    g_autofree char *v = dev_xml_prop(addr, name);
    char *end = NULL;
    gboolean ok = FALSE;

    *out = 0;
    if (!v) {
        ok = TRUE;
    } else if (g_ascii_isdigit(v[0])) {
        errno = 0;
        *out = strtoul(v, &end, 0);
        ok = errno == 0 && *end == '\0' && *out <= max;
    }
    return ok;
}

/* "type:attr=value,..." in document order: for address types without a conventional
 * notation, and for conventional ones whose numbers do not parse or are out of range. */
static char *
address_generic(const xmlNode *addr)
{
    g_autofree char *type = dev_xml_prop(addr, "type");
    GString *s = g_string_new(type ? type : "");
    const char *sep = ":";

    for (const xmlAttr *a = addr->properties; a; a = a->next) {
        g_autofree char *v = NULL;

        if (a->ns || strcmp((const char *)a->name, "type") == 0)
            continue;
        v = dev_xml_prop(addr, (const char *)a->name);
        g_string_append_printf(s, "%s%s=%s", sep, (const char *)a->name, v ? v : "");
        sep = ",";
    }
    return g_string_free(s, FALSE);
}

/* domain:bus:slot.function as lspci -D prints it; NULL when a number is out of range */
static char *
address_pci(const xmlNode *addr)
{
    unsigned long a, b, c, d;

    if (addr_num(addr, "domain", 0xffff, &a) && addr_num(addr, "bus", 0xff, &b) &&
        addr_num(addr, "slot", 0x1f, &c) && addr_num(addr, "function", 7, &d))
        return g_strdup_printf("%04lx:%02lx:%02lx.%lx", a, b, c, d);
    return NULL;
}

static char *
address_string(const xmlNode *addr)
{
    g_autofree char *type = addr ? dev_xml_prop(addr, "type") : NULL;
    char *ret = NULL;
    unsigned long a, b, c, d;

    if (!addr)
        return NULL;
    if (streq0(type, "pci")) {
        if ((ret = address_pci(addr)))
            return ret;
    } else if (streq0(type, "drive")) {
        if (addr_num(addr, "controller", UINT_MAX, &a) && addr_num(addr, "bus", UINT_MAX, &b) &&
            addr_num(addr, "target", UINT_MAX, &c) && addr_num(addr, "unit", UINT_MAX, &d))
            return g_strdup_printf("%lu:%lu:%lu:%lu", a, b, c, d);
    } else if (streq0(type, "ccw")) {
        /* the Linux bus-id layout (as in lscss / the guest's /sys/bus/ccw), with
         * libvirt's cssid: fe.0.0001 */
        if (addr_num(addr, "cssid", 0xff, &a) && addr_num(addr, "ssid", 3, &b) &&
            addr_num(addr, "devno", 0xffff, &c))
            return g_strdup_printf("%lx.%lx.%04lx", a, b, c);
    } else if (streq0(type, "usb")) {
        g_autofree char *port = dev_xml_prop(addr, "port");

        /* the port is a dotted path through hubs ("1.2"), kept as written */
        if (addr_num(addr, "bus", UINT_MAX, &a))
            return g_strdup_printf("%lu:%s", a, port ? port : "");
    }
    return address_generic(addr);
}

/* HOST[:PORT]-like joins; an IPv6 literal gets brackets so the colon stays unambiguous */
static void
append_host(GString *s, const char *host)
{
    if (host && strchr(host, ':'))
        g_string_append_printf(s, "[%s]", host);
    else if (host)
        g_string_append(s, host);
}

/* ---- disks ----------------------------------------------------------------------- */

/* protocol://host[:port]/name[?query]; protocol:name without a <host> (rbd from
 * ceph.conf); a non-tcp transport is protocol+transport://, and a unix socket goes in
 * "?socket=" as in qemu's nbd+unix:///export?socket=/path. */
static char *
network_source(const xmlNode *src)
{
    g_autofree char *protocol = dev_xml_prop(src, "protocol");
    g_autofree char *name = dev_xml_prop(src, "name");
    g_autofree char *query = dev_xml_prop(src, "query");
    g_autofree char *transport = NULL;
    g_autofree char *socket = NULL;
    xmlNode *host = dev_xml_child(src, "host");
    GString *s = g_string_new(protocol ? protocol : "");
    char sep = '?';

    if (!host) {
        if (name)
            g_string_append_printf(s, ":%s", name);
        goto query;
    }
    transport = dev_xml_prop(host, "transport");
    if (transport && *transport && strcmp(transport, "tcp") != 0)
        g_string_append_printf(s, "+%s", transport);
    g_string_append(s, "://");
    if (streq0(transport, "unix")) {
        socket = dev_xml_prop(host, "socket");
    } else {
        g_autofree char *hname = dev_xml_prop(host, "name");
        g_autofree char *port = dev_xml_prop(host, "port");

        append_host(s, hname);
        if (port)
            g_string_append_printf(s, ":%s", port);
    }
    if (name)
        g_string_append_printf(s, "%s%s", name[0] == '/' ? "" : "/", name);
query:
    if (query && *query) {
        g_string_append_printf(s, "%c%s", sep, query);
        sep = '&';
    }
    if (socket)
        g_string_append_printf(s, "%csocket=%s", sep, socket);
    return g_string_free(s, FALSE);
}

static char *
disk_source(const xmlNode *disk, const char *type)
{
    xmlNode *src = dev_xml_child(disk, "source");

    if (!src)
        return NULL;
    /* libvirt's default disk type is file */
    if (!type || strcmp(type, "file") == 0)
        return dev_xml_prop(src, "file");
    if (strcmp(type, "block") == 0)
        return dev_xml_prop(src, "dev");
    if (strcmp(type, "dir") == 0)
        return dev_xml_prop(src, "dir");
    if (strcmp(type, "network") == 0)
        return network_source(src);
    if (strcmp(type, "volume") == 0) {
        g_autofree char *pool = dev_xml_prop(src, "pool");
        g_autofree char *volume = dev_xml_prop(src, "volume");

        if (!pool && !volume)
            return NULL;
        return g_strdup_printf("%s/%s", pool ? pool : "", volume ? volume : "");
    }
    if (strcmp(type, "nvme") == 0) {
        /* qemu's own notation for an NVMe namespace: nvme://0000:01:00.0/1; libvirt
         * writes this address without type='pci' */
        xmlNode *addr_el = dev_xml_child(src, "address");
        g_autofree char *addr = addr_el ? address_pci(addr_el) : NULL;

        if (!addr && addr_el)
            addr = address_generic(addr_el);
        g_autofree char *ns = dev_xml_prop(src, "namespace");

        return g_strdup_printf("nvme://%s/%s", addr ? addr : "", ns ? ns : "");
    }
    if (strcmp(type, "vhostuser") == 0)
        return dev_xml_prop(src, "path");
    return NULL;
}

static void
disk_values(const xmlNode *disk, char **v)
{
    xmlNode *driver = dev_xml_child(disk, "driver");
    xmlNode *target = dev_xml_child(disk, "target");
    g_autofree char *device = dev_xml_prop(disk, "device");
    g_autofree char *type = dev_xml_prop(disk, "type");

    v[DISK_DEVICE] = g_strdup(device ? device : "disk");
    v[DISK_BUS] = dev_xml_prop(target, "bus");
    v[DISK_MODEL] = dev_xml_prop(disk, "model");
    v[DISK_SOURCE] = disk_source(disk, type);
    v[DISK_TYPE] = g_strdup(type);
    v[DISK_FORMAT] = dev_xml_prop(driver, "type");
    v[DISK_CACHE] = dev_xml_prop(driver, "cache");
    v[DISK_DISCARD] = dev_xml_prop(driver, "discard");
    v[DISK_SERIAL] = child_text(disk, "serial");
    v[DISK_WWN] = child_text(disk, "wwn");
    v[DISK_READONLY] = g_strdup(dev_xml_child(disk, "readonly") ? "1" : "0");
    v[DISK_SHAREABLE] = g_strdup(dev_xml_child(disk, "shareable") ? "1" : "0");
    v[DISK_BOOT_ORDER] = dev_xml_prop(dev_xml_child(disk, "boot"), "order");
    v[DISK_ADDRESS] = address_string(dev_xml_child(disk, "address"));
    v[DISK_ALIAS] = dev_xml_prop(dev_xml_child(disk, "alias"), "name");
    if (v[DISK_DEVICE] && (strcmp(v[DISK_DEVICE], "cdrom") == 0 ||
                           strcmp(v[DISK_DEVICE], "floppy") == 0)) {
        /* libvirt omits tray='closed' */
        v[DISK_TRAY] = dev_xml_prop(target, "tray");
        if (!v[DISK_TRAY])
            v[DISK_TRAY] = g_strdup("closed");
    }
}

/* ---- serial ports ---------------------------------------------------------------- */

/* udp has two <source>s: the connect side (where the guest's output goes) is the one
 * shown; libvirt writes mode='connect' or no mode on it. Other types have one. */
static xmlNode *
serial_source_el(const xmlNode *el, const char *type)
{
    xmlNode *first = dev_xml_child(el, "source");

    if (streq0(type, "udp")) {
        for (xmlNode *n = first; n; n = n->next)
            if (dev_xml_is_el(n, "source") && !prop_is(n, "mode", "bind"))
                return n;
    }
    return first;
}

static char *
host_service(const xmlNode *src)
{
    g_autofree char *host = dev_xml_prop(src, "host");
    g_autofree char *service = dev_xml_prop(src, "service");
    GString *s;

    if (!host && !service)
        return NULL;
    s = g_string_new(NULL);
    append_host(s, host);
    g_string_append_printf(s, ":%s", service ? service : "");
    return g_string_free(s, FALSE);
}

static void
serial_values(const xmlNode *el, char **v)
{
    g_autofree char *type = dev_xml_prop(el, "type");
    xmlNode *target = dev_xml_child(el, "target");
    xmlNode *src = serial_source_el(el, type);
    xmlNode *log = dev_xml_child(el, "log");
    gboolean socket_like = streq0(type, "tcp") || streq0(type, "udp") || streq0(type, "unix");

    v[SER_TYPE] = g_strdup(type);
    v[SER_TARGET_TYPE] = dev_xml_prop(target, "type");
    v[SER_TARGET_MODEL] = dev_xml_prop(dev_xml_child(target, "model"), "name");
    if (streq0(type, "pty") || streq0(type, "file") || streq0(type, "dev") ||
        streq0(type, "pipe") || streq0(type, "unix"))
        v[SER_SOURCE] = dev_xml_prop(src, "path");
    else if (streq0(type, "tcp") || streq0(type, "udp"))
        v[SER_SOURCE] = host_service(src);
    v[SER_MODE] = dev_xml_prop(src, "mode");
    /* connect is libvirt's default for the socket types */
    if (!v[SER_MODE] && src && socket_like)
        v[SER_MODE] = g_strdup("connect");
    v[SER_LOG] = dev_xml_prop(log, "file");
    v[SER_LOG_APPEND] = dev_xml_prop(log, "append");
    v[SER_ALIAS] = dev_xml_prop(dev_xml_child(el, "alias"), "name");
    v[SER_TTY] = dev_xml_prop(el, "tty");
    if (!v[SER_TTY] && streq0(type, "pty"))
        v[SER_TTY] = dev_xml_prop(src, "path");
}

/* ---- interfaces ------------------------------------------------------------------ */

static char *
iface_source(const xmlNode *el, const char *type)
{
    xmlNode *src = dev_xml_child(el, "source");

    if (!src || !type)
        return NULL;
    if (strcmp(type, "network") == 0)
        return dev_xml_prop(src, "network");
    if (strcmp(type, "bridge") == 0)
        return dev_xml_prop(src, "bridge");
    if (strcmp(type, "direct") == 0 || strcmp(type, "vdpa") == 0)
        return dev_xml_prop(src, "dev");
    if (strcmp(type, "hostdev") == 0)
        return address_string(dev_xml_child(src, "address"));
    if (strcmp(type, "vhostuser") == 0)
        return dev_xml_prop(src, "path");
    if (strcmp(type, "mcast") == 0 || strcmp(type, "server") == 0 ||
        strcmp(type, "client") == 0 || strcmp(type, "udp") == 0) {
        g_autofree char *address = dev_xml_prop(src, "address");
        g_autofree char *port = dev_xml_prop(src, "port");
        GString *s;

        if (!address && !port)
            return NULL;
        s = g_string_new(NULL);
        append_host(s, address);
        g_string_append_printf(s, ":%s", port ? port : "");
        return g_string_free(s, FALSE);
    }
    return NULL;
}

static void
iface_values(const xmlNode *el, char **v)
{
    g_autofree char *type = dev_xml_prop(el, "type");

    v[IF_TYPE] = g_strdup(type);
    v[IF_SOURCE] = iface_source(el, type);
    v[IF_MAC] = dev_xml_prop(dev_xml_child(el, "mac"), "address");
    v[IF_MODEL] = dev_xml_prop(dev_xml_child(el, "model"), "type");
    v[IF_TARGET] = dev_xml_prop(dev_xml_child(el, "target"), "dev");
    v[IF_LINK_STATE] = dev_xml_prop(dev_xml_child(el, "link"), "state");
    if (!v[IF_LINK_STATE])
        v[IF_LINK_STATE] = g_strdup("up");
    v[IF_ALIAS] = dev_xml_prop(dev_xml_child(el, "alias"), "name");
}

/* ---- names ----------------------------------------------------------------------- */

typedef struct {
    GHashTable *used;         /* names taken in this kind (borrowed from the entries) */
    GHashTable *next_suffix;  /* escaped base -> next "~N" to try, so that thousands of
                               * equal names stay linear */
} NameSet;

/* BASE + "~N", cut (never inside a %XX) so the whole stays within NAME_MAX */
static char *
unique_name(NameSet *names, const char *raw)
{
    g_autofree char *base = name_escape(raw);
    char *name = g_strdup(base);
    unsigned n;

    if (g_hash_table_contains(names->used, name)) {
        n = GPOINTER_TO_UINT(g_hash_table_lookup(names->next_suffix, base));
        if (n < 2)
            n = 2;
        for (;; n++) {
            g_free(name);
            name = name_with_suffix(base, n);
            if (!g_hash_table_contains(names->used, name))
                break;
        }
        g_hash_table_replace(names->next_suffix, g_strdup(base), GUINT_TO_POINTER(n + 1));
    }
    g_hash_table_add(names->used, name);
    return name;
}

/* ---- the model ------------------------------------------------------------------- */

static void
entry_free(gpointer p)
{
    DevEntry *e = p;

    if (!e)
        return;
    g_free(e->name);
    g_strfreev(e->values);
    g_free(e);
}

void
dev_model_free(DevModel *model)
{
    if (!model)
        return;
    for (int k = 0; k < DEV_N_KINDS; k++)
        if (model->entries[k])
            g_ptr_array_unref(model->entries[k]);
    g_free(model);
}

static char *
raw_name(DevKind kind, const xmlNode *el, unsigned index)
{
    char *name = NULL;

    if (kind == DEV_DISK)
        name = dev_xml_prop(dev_xml_child(el, "target"), "dev");
    else if (kind == DEV_SERIAL)
        name = dev_xml_prop(dev_xml_child(el, "target"), "port");
    if (!name || !*name) {
        g_free(name);
        name = g_strdup_printf(kind == DEV_DISK ? "disk%u" : "%u", index);
    }
    return name;
}

static int
entry_new(DevKind kind, xmlDoc *doc, xmlNode *el, unsigned index, NameSet *names,
          DevEntry **out)
{
    size_t n = kind_n_fields[kind];
    g_autofree char *raw = raw_name(kind, el, index);
    DevEntry *e = g_new0(DevEntry, 1);
    int ret = 0;

    e->values = g_new0(char *, n + 1);
    if (kind == DEV_DISK)
        disk_values(el, e->values);
    else if (kind == DEV_SERIAL)
        serial_values(el, e->values);
    else
        iface_values(el, e->values);
    e->values[n - 1] = dev_xml_dump(doc, el);
    if (!e->values[n - 1]) {
        ret = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n - 1; i++) {
        size_t len;

        if (!e->values[i])
            e->values[i] = g_strdup("");
        /* the file system adds the one newline a value file ends with */
        len = strlen(e->values[i]);
        while (len > 0 && (e->values[i][len - 1] == '\n' || e->values[i][len - 1] == '\r'))
            e->values[i][--len] = '\0';
    }
    e->name = unique_name(names, raw);
    *out = g_steal_pointer(&e);
out:
    entry_free(e);
    return ret;
}

static int
kind_of_element(const xmlNode *n)
{
    for (int k = 0; k < DEV_N_KINDS; k++)
        if (dev_xml_is_el(n, kind_elements[k]))
            return k;
    return -1;
}

int
dev_model_parse(const char *xml, size_t len, DevModel **out)
{
    xmlDoc *doc = NULL;
    xmlNode *root;
    xmlNode *devices;
    DevModel *model = NULL;
    NameSet names[DEV_N_KINDS] = { { NULL, NULL } };
    unsigned count[DEV_N_KINDS] = { 0 };
    int ret = -EINVAL;

    if (out)
        *out = NULL;
    if (!out || !(doc = dev_xml_read(xml, len)))
        goto out;
    root = xmlDocGetRootElement(doc);
    if (!dev_xml_is_el(root, "domain"))
        goto out;

    model = g_new0(DevModel, 1);
    for (int k = 0; k < DEV_N_KINDS; k++) {
        model->entries[k] = g_ptr_array_new_with_free_func(entry_free);
        names[k].used = g_hash_table_new(g_str_hash, g_str_equal);
        names[k].next_suffix = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    /* libvirt writes exactly one <devices>; a second one is not libvirt's and ignored */
    devices = dev_xml_child(root, "devices");
    for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
        int kind = kind_of_element(n);
        DevEntry *e = NULL;

        if (kind < 0)
            continue;
        ret = entry_new(kind, doc, n, count[kind]++, &names[kind], &e);
        if (ret < 0)
            goto out;
        g_ptr_array_add(model->entries[kind], e);
    }
    *out = g_steal_pointer(&model);
    ret = 0;
out:
    for (int k = 0; k < DEV_N_KINDS; k++) {
        if (names[k].used)
            g_hash_table_unref(names[k].used);
        if (names[k].next_suffix)
            g_hash_table_unref(names[k].next_suffix);
    }
    dev_model_free(model);
    if (doc)
        xmlFreeDoc(doc);
    return ret;
}

const DevEntry *
dev_model_find(const DevModel *model, DevKind kind, const char *name)
{
    if (!model || (unsigned)kind >= DEV_N_KINDS || !name || !model->entries[kind])
        return NULL;
    for (guint i = 0; i < model->entries[kind]->len; i++) {
        const DevEntry *e = g_ptr_array_index(model->entries[kind], i);

        if (strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}
