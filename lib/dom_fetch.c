/* dom_fetch.c - builds DomInfo snapshots. The bulk path is what start-up and a reconnect
 * use: two virConnectListAllDomains calls (autostart, transient: libvirt filters
 * server-side, so they cost no per-guest call, and both sets are usually small: a guest
 * not transient is persistent) and one virConnectGetAllDomainStats for the domains, their
 * state, vcpus and balloon. The sets hold raw UUIDs: formatting 10000 UUIDs per list was
 * a quarter of a 10000-guest start-up. The XML (title, description, devices, console
 * log) is one call per guest, so it is left to dom_fetch_load, run in the background
 * after mounting. The single path (after an event or a write) asks one domain for all. */
#define G_LOG_DOMAIN "domfs-fetch"

#include "dom_fetch.h"

#include <errno.h>
#include <string.h>

#include "name_escape.h"
#include "verr.h"

int
dom_fetch_uuid(virDomainPtr dom, char *out, unsigned char *raw)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u[VIR_UUID_BUFLEN];
    char *p = out;

    G_STATIC_ASSERT(VIR_UUID_BUFLEN == 16 && VIR_UUID_STRING_BUFLEN == 37);
    if (virDomainGetUUID(dom, u) < 0)
        return -1;
    /* libvirt's own form: 8-4-4-4-12 lowercase hex digits */
    for (int i = 0; i < VIR_UUID_BUFLEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 15];
    }
    *p = '\0';
    if (raw)
        memcpy(raw, u, sizeof(u));
    return 0;
}

/* Name, uuid, id of DOM into D (RAW: the uuid's bytes). SHUTOFF: the state is known to be
 * shut off (no id: one call fewer). */
static void
dom_fetch_base(virDomainPtr dom, DomInfo *d, unsigned char *raw, gboolean shutoff)
{
    unsigned int id = shutoff ? (unsigned int)-1 : virDomainGetID(dom);

    if (dom_fetch_uuid(dom, d->uuid, raw) < 0 && raw)
        memset(raw, 0, VIR_UUID_BUFLEN);
    d->name = g_strdup(virDomainGetName(dom));
    d->dirname = name_escape(d->name);
    d->id = id == (unsigned int)-1 ? -1 : (int)id;
}

static int
dom_fetch_xml(virDomainPtr dom, DomInfo *d, char **errmsg)
{
    char *xml = virDomainGetXMLDesc(dom, 0);

    if (!xml)
        return -verr_take(errmsg);
    g_free(d->xml);
    d->xml = g_strdup(xml);
    free(xml);
    return 0;
}

/* Sets of raw UUIDs (VIR_UUID_BUFLEN bytes): random bytes, so the first four hash well. */
static guint
dom_fetch_uuid_hash(gconstpointer key)
{
    guint h;

    memcpy(&h, key, sizeof(h));
    return h;
}

static gboolean
dom_fetch_uuid_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, VIR_UUID_BUFLEN) == 0;
}

static GHashTable *
dom_fetch_uuid_set(virConnectPtr vc, unsigned int flags, int *err, char **errmsg)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(vc, &doms, flags);
    GHashTable *set;

    if (n < 0) {
        *err = -verr_take(errmsg);
        return NULL;
    }
    set = g_hash_table_new_full(dom_fetch_uuid_hash, dom_fetch_uuid_equal, g_free, NULL);
    for (int i = 0; i < n; i++) {
        unsigned char uuid[VIR_UUID_BUFLEN];

        if (virDomainGetUUID(doms[i], uuid) == 0)
            g_hash_table_add(set, g_memdup2(uuid, sizeof(uuid)));
        virDomainFree(doms[i]);
    }
    free(doms);
    return set;
}

static void
dom_fetch_apply_stats(DomInfo *d, virDomainStatsRecordPtr rec, gboolean *vcpus_set,
                      gboolean *mem_set)
{
    for (int i = 0; i < rec->nparams; i++) {
        virTypedParameterPtr p = &rec->params[i];

        if (strcmp(p->field, "state.state") == 0 && p->type == VIR_TYPED_PARAM_INT)
            d->state = p->value.i;
        else if (strcmp(p->field, "state.reason") == 0 && p->type == VIR_TYPED_PARAM_INT)
            d->reason = p->value.i;
        else if (strcmp(p->field, "vcpu.current") == 0 && p->type == VIR_TYPED_PARAM_UINT) {
            d->vcpus = p->value.ui;
            *vcpus_set = TRUE;
        } else if (strcmp(p->field, "balloon.current") == 0 &&
                   p->type == VIR_TYPED_PARAM_ULLONG) {
            d->memory_kib = p->value.ul;
            *mem_set = TRUE;
        }
    }
}

static void
dom_fetch_dom_free(gpointer p)
{
    virDomainFree(p);
}

int
dom_fetch_all(virConnectPtr vc, GPtrArray **out, GPtrArray **doms, char **errmsg)
{
    virDomainStatsRecordPtr *stats = NULL;
    g_autoptr(GHashTable) autostart = NULL;
    g_autoptr(GHashTable) transient = NULL;
    g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func((GDestroyNotify)dom_info_unref);
    g_autoptr(GPtrArray) objs = g_ptr_array_new_with_free_func(dom_fetch_dom_free);
    int n;
    int ret = 0;

    if (!(autostart = dom_fetch_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_AUTOSTART, &ret, errmsg)))
        goto cleanup;
    if (!(transient = dom_fetch_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_TRANSIENT, &ret, errmsg)))
        goto cleanup;
    n = virConnectGetAllDomainStats(vc, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_VCPU |
                                    VIR_DOMAIN_STATS_BALLOON, &stats, 0);
    if (n < 0) {
        ret = -verr_take(errmsg);
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        DomInfo *d = dom_info_new();
        unsigned char raw[VIR_UUID_BUFLEN];
        gboolean vcpus_set = FALSE;
        gboolean mem_set = FALSE;

        g_ptr_array_add(infos, d);
        dom_fetch_apply_stats(d, stats[i], &vcpus_set, &mem_set);
        dom_fetch_base(stats[i]->dom, d, raw, d->state == VIR_DOMAIN_SHUTOFF);
        d->counts_from_xml = !vcpus_set || !mem_set;
        d->autostart = g_hash_table_contains(autostart, raw);
        d->persistent = !g_hash_table_contains(transient, raw);
        virDomainRef(stats[i]->dom);
        g_ptr_array_add(objs, stats[i]->dom);
    }
    g_ptr_array_set_free_func(infos, NULL);
    *out = g_steal_pointer(&infos);
    *doms = g_steal_pointer(&objs);

 cleanup:
    if (stats)
        virDomainStatsRecordListFree(stats);
    return ret;
}

int
dom_fetch_one(virConnectPtr vc, const char *uuid, virDomainPtr known, DomInfo **out,
              char **errmsg)
{
    /* the event's own domain object saves a lookup round trip */
    virDomainPtr dom = known ? (virDomainRef(known), known)
                             : virDomainLookupByUUIDString(vc, uuid);
    g_autoptr(DomInfo) d = NULL;
    virDomainInfo info;
    int autostart = 0;
    int persistent;
    int ret;

    if (!dom)
        return -verr_take(errmsg);
    d = dom_info_new();
    dom_fetch_base(dom, d, NULL, FALSE);
    if (virDomainGetState(dom, &d->state, &d->reason, 0) < 0 ||
        virDomainGetInfo(dom, &info) < 0 ||
        virDomainGetAutostart(dom, &autostart) < 0 ||
        (persistent = virDomainIsPersistent(dom)) < 0) {
        ret = -verr_take(errmsg);
        goto cleanup;
    }
    /* an event's domain object keeps the id it had when the event was sent: a stopped
     * guest's is stale */
    if (d->state == VIR_DOMAIN_SHUTOFF)
        d->id = -1;
    d->vcpus = info.nrVirtCpu;
    d->memory_kib = info.memory;
    d->autostart = autostart != 0;
    d->persistent = persistent != 0;
    if ((ret = dom_fetch_xml(dom, d, errmsg)) < 0)
        goto cleanup;
    dom_info_fill_from_xml(d, FALSE, FALSE);
    d->loaded = TRUE;
    *out = g_steal_pointer(&d);
    ret = 0;

 cleanup:
    virDomainFree(dom);
    return ret;
}

int
dom_fetch_load(virDomainPtr dom, const DomInfo *cur, DomInfo **out, char **errmsg)
{
    g_autoptr(DomInfo) d = dom_info_copy(cur);
    int ret;

    if ((ret = dom_fetch_xml(dom, d, errmsg)) < 0)
        return ret;
    dom_info_fill_from_xml(d, cur->counts_from_xml, cur->counts_from_xml);
    d->loaded = TRUE;
    *out = g_steal_pointer(&d);
    return 0;
}
