/* dom_fetch.c - builds DomInfo snapshots. The bulk path is what start-up and a reconnect
 * use: two virConnectListAllDomains calls (autostart, persistent: libvirt filters
 * server-side, so they cost no per-guest call) and one virConnectGetAllDomainStats for the
 * domains, their state, vcpus and balloon. The XML (title, description, devices, console
 * log) is one call per guest, so it is left to dom_fetch_load, run in the background
 * after mounting. The single path (after an event or a write) asks one domain for all. */
#define G_LOG_DOMAIN "domfs-fetch"

#include "dom_fetch.h"

#include <errno.h>
#include <string.h>

#include "name_escape.h"
#include "verr.h"

static void
dom_fetch_base(virDomainPtr dom, DomInfo *d)
{
    unsigned int id = virDomainGetID(dom);

    virDomainGetUUIDString(dom, d->uuid);
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
    set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(doms[i], uuid) == 0)
            g_hash_table_add(set, g_strdup(uuid));
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
    g_autoptr(GHashTable) persistent = NULL;
    g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func((GDestroyNotify)dom_info_unref);
    g_autoptr(GPtrArray) objs = g_ptr_array_new_with_free_func(dom_fetch_dom_free);
    int n;
    int ret = 0;

    if (!(autostart = dom_fetch_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_AUTOSTART, &ret, errmsg)))
        goto cleanup;
    if (!(persistent = dom_fetch_uuid_set(vc, VIR_CONNECT_LIST_DOMAINS_PERSISTENT, &ret, errmsg)))
        goto cleanup;
    n = virConnectGetAllDomainStats(vc, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_VCPU |
                                    VIR_DOMAIN_STATS_BALLOON, &stats, 0);
    if (n < 0) {
        ret = -verr_take(errmsg);
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        DomInfo *d = dom_info_new();
        gboolean vcpus_set = FALSE;
        gboolean mem_set = FALSE;

        g_ptr_array_add(infos, d);
        dom_fetch_base(stats[i]->dom, d);
        dom_fetch_apply_stats(d, stats[i], &vcpus_set, &mem_set);
        d->counts_from_xml = !vcpus_set || !mem_set;
        d->autostart = g_hash_table_contains(autostart, d->uuid);
        d->persistent = g_hash_table_contains(persistent, d->uuid);
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
    dom_fetch_base(dom, d);
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
