/* dom_info.c - the domain snapshot. Snapshots are built by the fetcher (dom_fetch.c) and
 * never modified once published in the cache; a change (an event, a recorded error, a
 * migration's progress) publishes a new snapshot, usually a dom_info_copy() with one field
 * changed. The XML-derived fields are read with libxml2's XPath. */
#include "dom_info.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>

#include "dev_model.h"

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
    g_free(d->error);
    g_free(d->migrate);
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
    d->migrate = g_strdup("none");
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
    c->error = g_strdup(d->error);
    c->migrate = g_strdup(d->migrate);
    c->error_serial = d->error_serial;
    c->loaded = d->loaded;
    c->counts_from_xml = d->counts_from_xml;
    return c;
}

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

static unsigned long long
dom_scale_kib(unsigned long long v, const char *unit)
{
    if (!unit || !*unit || g_ascii_strcasecmp(unit, "KiB") == 0 || strcmp(unit, "k") == 0)
        return v;
    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0)
        return v / 1024;
    if (strcmp(unit, "KB") == 0)
        return v * 1000 / 1024;
    if (strcmp(unit, "MiB") == 0 || strcmp(unit, "M") == 0)
        return v * 1024;
    if (strcmp(unit, "MB") == 0)
        return v * 1000000 / 1024;
    if (strcmp(unit, "GiB") == 0 || strcmp(unit, "G") == 0)
        return v * 1024 * 1024;
    if (strcmp(unit, "GB") == 0)
        return v * 1000000000 / 1024;
    if (strcmp(unit, "TiB") == 0 || strcmp(unit, "T") == 0)
        return v * 1024ULL * 1024 * 1024;
    return v;
}

void
dom_info_fill_from_xml(DomInfo *d, gboolean vcpus_unset, gboolean memory_unset)
{
    xmlDocPtr doc = NULL;
    xmlXPathContextPtr ctx = NULL;
    g_autofree char *title = NULL;
    g_autofree char *desc = NULL;

    if (!d->xml || !*d->xml)
        return;
    doc = xmlReadMemory(d->xml, (int)strlen(d->xml), "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        goto cleanup;
    ctx = xmlXPathNewContext(doc);
    if (!ctx)
        goto cleanup;

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

 cleanup:
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
