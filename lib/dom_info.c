/* dom_info.c - the domain snapshot. Snapshots are built by the fetcher (dom_fetch.c) and
 * never modified once published in the cache; a change (an event, a recorded error, a
 * migration's progress) publishes a new snapshot, usually a dom_info_copy() with one field
 * changed. The XML-derived fields are read from the document parsed by the one locked-down
 * reader (dev_xml_read), with libxml2's XPath. */
#define G_LOG_DOMAIN "domfs-dominfo"

#include "dom_info.h"

#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>

#include "agent_info.h"
#include "dev_model.h"
#include "dev_xml.h"

/* ---- the domfs-side part ---- */

static void
dom_local_clear(gpointer p)
{
    DomLocal *l = p;

    g_free(l->error);
    g_free(l->migrate);
    agent_info_unref(l->agent);
}

DomLocal *
dom_local_new(const char *error, gint64 error_serial, const char *migrate)
{
    DomLocal *l = g_atomic_rc_box_new0(DomLocal);

    l->error = g_strdup(error);
    l->error_serial = error_serial;
    l->migrate = g_strdup(migrate ? migrate : "none");
    return l;
}

DomLocal *
dom_local_copy(const DomLocal *l)
{
    DomLocal *c = dom_local_new(l->error, l->error_serial, l->migrate);

    c->agent = agent_info_ref(l->agent);
    return c;
}

DomLocal *
dom_local_ref(DomLocal *l)
{
    return g_atomic_rc_box_acquire(l);
}

void
dom_local_unref(DomLocal *l)
{
    if (l)
        g_atomic_rc_box_release_full(l, dom_local_clear);
}

/* ---- the snapshot ---- */

static void
dom_info_clear(gpointer p)
{
    DomInfo *d = p;

    g_free(d->name);
    g_free(d->dirname);
    g_free(d->title);
    g_free(d->description);
    g_free(d->xml);
    g_free(d->console_log);
    dom_local_unref(d->local);
    if (d->devices_once)
        dev_model_free(d->devices_once);
}

DomInfo *
dom_info_new(void)
{
    DomInfo *d = g_atomic_rc_box_new0(DomInfo);

    d->id = -1;
    d->title = g_strdup("");
    d->description = g_strdup("");
    d->xml = g_strdup("");
    d->local = dom_local_new(NULL, 0, NULL);
    d->confirmed = g_get_real_time();
    return d;
}

DomInfo *
dom_info_ref(DomInfo *d)
{
    return g_atomic_rc_box_acquire(d);
}

void
dom_info_unref(DomInfo *d)
{
    if (d)
        g_atomic_rc_box_release_full(d, dom_info_clear);
}

DomInfo *
dom_info_copy(const DomInfo *d)
{
    DomInfo *c = g_atomic_rc_box_new0(DomInfo);

    memcpy(c->uuid, d->uuid, sizeof(c->uuid));
    c->name = g_strdup(d->name);
    c->dirname = g_strdup(d->dirname);
    c->id = d->id;
    c->state = d->state;
    c->reason = d->reason;
    c->vcpus = d->vcpus;
    c->memory_kib = d->memory_kib;
    c->autostart = d->autostart;
    c->persistent = d->persistent;
    c->title = g_strdup(d->title);
    c->description = g_strdup(d->description);
    c->xml = g_strdup(d->xml);
    c->console_log = g_strdup(d->console_log);
    c->agent_state = d->agent_state;
    c->loaded = d->loaded;
    c->counts_from_xml = d->counts_from_xml;
    c->confirmed = d->confirmed;
    c->ticket = d->ticket;
    c->local = dom_local_ref(d->local);
    return c;
}

gboolean
dom_info_facts_differ(const DomInfo *a, const DomInfo *b)
{
    return a->state != b->state || a->reason != b->reason || a->id != b->id ||
           a->vcpus != b->vcpus || a->memory_kib != b->memory_kib ||
           a->autostart != b->autostart || a->persistent != b->persistent;
}

/* ---- XML-derived fields ---- */

static char *
dom_xpath_string(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    char *ret = NULL;

    if (obj && obj->type == XPATH_STRING && obj->stringval)
        ret = g_strdup((const char *)obj->stringval);
    xmlXPathFreeObject(obj);
    return ret;
}

/* libvirt's memory units: what one unit is in KiB (num/den); "b", "bytes" and "KiB" are
 * matched in any case, the others exactly. */
static const struct {
    const char *unit;
    gboolean any_case;
    unsigned long long num;
    unsigned long long den;
} dom_units[] = {
    { "b", TRUE, 1, 1024 }, { "bytes", TRUE, 1, 1024 }, { "KiB", TRUE, 1, 1 },
    { "k", FALSE, 1, 1 }, { "KB", FALSE, 1000, 1024 },
    { "M", FALSE, 1024, 1 }, { "MiB", FALSE, 1024, 1 }, { "MB", FALSE, 1000000, 1024 },
    { "G", FALSE, 1024 * 1024, 1 }, { "GiB", FALSE, 1024 * 1024, 1 },
    { "GB", FALSE, 1000000000, 1024 },
    { "T", FALSE, 1024ULL * 1024 * 1024, 1 }, { "TiB", FALSE, 1024ULL * 1024 * 1024, 1 },
};

static unsigned long long
dom_scale_kib(unsigned long long v, const char *unit)
{
    if (!unit || !*unit)
        return v;
    for (size_t i = 0; i < G_N_ELEMENTS(dom_units); i++) {
        gboolean same = dom_units[i].any_case ? g_ascii_strcasecmp(unit, dom_units[i].unit) == 0
                                              : strcmp(unit, dom_units[i].unit) == 0;

        if (same)
            return v * dom_units[i].num / dom_units[i].den;
    }
    return v;
}

static void
dom_fill_counts(DomInfo *d, xmlXPathContextPtr ctx, gboolean vcpus_unset,
                gboolean memory_unset)
{
    if (vcpus_unset) {
        g_autofree char *cur = dom_xpath_string(ctx, "string(/domain/vcpu/@current)");
        g_autofree char *max = dom_xpath_string(ctx, "string(/domain/vcpu)");
        const char *v = cur && *cur ? cur : max;

        if (v && *v)
            d->vcpus = (unsigned int)g_ascii_strtoull(v, NULL, 10);
    }
    if (memory_unset) {
        g_autofree char *cur = dom_xpath_string(ctx, "string(/domain/currentMemory)");
        g_autofree char *cur_unit = dom_xpath_string(ctx, "string(/domain/currentMemory/@unit)");
        g_autofree char *mem = dom_xpath_string(ctx, "string(/domain/memory)");
        g_autofree char *mem_unit = dom_xpath_string(ctx, "string(/domain/memory/@unit)");

        if (cur && *cur)
            d->memory_kib = dom_scale_kib(g_ascii_strtoull(cur, NULL, 10), cur_unit);
        else if (mem && *mem)
            d->memory_kib = dom_scale_kib(g_ascii_strtoull(mem, NULL, 10), mem_unit);
    }
}

/* The guest agent's channel: none, or its state in the live XML (libvirt tracks the
 * agent's connection there and sends an agent-lifecycle event when it changes). */
static int
dom_agent_state(const DomInfo *d, xmlXPathContextPtr ctx)
{
    static const char chan[] = "/domain/devices/channel/target[@type='virtio' and "
                               "@name='org.qemu.guest_agent.0']";
    g_autofree char *count = dom_xpath_string(ctx, "string(count(/domain/devices/channel/"
                                                   "target[@type='virtio' and "
                                                   "@name='org.qemu.guest_agent.0']))");
    g_autofree char *expr = g_strdup_printf("string(%s/@state)", chan);
    g_autofree char *state = NULL;

    if (!count || strcmp(count, "0") == 0)
        return AGENT_UNAVAILABLE;
    state = dom_xpath_string(ctx, expr);
    if ((d->state == VIR_DOMAIN_RUNNING || d->state == VIR_DOMAIN_PAUSED) &&
        g_strcmp0(state, "connected") == 0)
        return AGENT_CONNECTED;
    return AGENT_DISCONNECTED;
}

void
dom_info_fill_from_xml(DomInfo *d, gboolean vcpus_unset, gboolean memory_unset)
{
    xmlDocPtr doc = NULL;
    xmlXPathContextPtr ctx = NULL;
    g_autofree char *title = NULL;
    g_autofree char *desc = NULL;

    if (!d->xml || !*d->xml || !(doc = dev_xml_read(d->xml, strlen(d->xml))))
        return;
    if (!(ctx = xmlXPathNewContext(doc))) {
        xmlFreeDoc(doc);
        return;
    }
    title = dom_xpath_string(ctx, "string(/domain/title)");
    desc = dom_xpath_string(ctx, "string(/domain/description)");
    g_free(d->title);
    d->title = g_strdup(title ? title : "");
    g_free(d->description);
    d->description = g_strdup(desc ? desc : "");
    g_free(d->console_log);
    d->console_log = dom_xpath_string(ctx, "string((/domain/devices/serial/log/@file)[1])");
    if (!d->console_log || !*d->console_log) {
        g_free(d->console_log);
        d->console_log = dom_xpath_string(ctx,
                                          "string((/domain/devices/console/log/@file)[1])");
    }
    dom_fill_counts(d, ctx, vcpus_unset, memory_unset);
    d->agent_state = dom_agent_state(d, ctx);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
}

const DevModel *
dom_info_devices(const DomInfo *d)
{
    /* A snapshot is immutable but its device model is parsed on first use: most guests
     * are never asked for devices/, and parsing 10000 XMLs at start-up would be waste. */
    DomInfo *m = (DomInfo *)d;

    if (g_once_init_enter(&m->devices_once)) {
        DevModel *model = NULL;

        if (dev_model_parse(m->xml, strlen(m->xml), &model) < 0 || !model)
            dev_model_parse("<domain/>", 9, &model);
        g_once_init_leave(&m->devices_once, model);
    }
    return m->devices_once;
}
