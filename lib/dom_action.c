/* dom_action.c - the libvirt side of writes to a guest's files.
 *
 * Every write looks the domain up by uuid (a renamed or re-created guest of the same name
 * is never hit by mistake), decides from the domain's *current* state what to do (so the
 * desired-state words are idempotent), calls libvirt once, and refreshes the cache. User
 * input only ever reaches libvirt as a parsed word, a number, or a metadata string that
 * libvirt itself escapes into its XML. */
#include "dom_action.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "dev_model.h"
#include "dev_update.h"
#include "state_word.h"
#include "verr.h"

static unsigned int act_affect_flags(virDomainPtr dom);

/* User text inside an error message: printable, bounded. */
static char *
act_quote(const char *buf, size_t len)
{
    g_autofree char *cut = g_strndup(buf, MIN(len, 64));

    return g_strescape(cut, NULL);
}

int
act_refuse(DomConn *c, const DomInfo *d, const char *file, int err, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    conn_record_error(c, d->uuid, file, err, msg);
    return -err;
}

int
act_fail(DomConn *c, const DomInfo *d, const char *file)
{
    g_autofree char *msg = NULL;
    int err = verr_take(&msg);

    conn_record_error(c, d->uuid, file, err, msg);
    return -err;
}

virDomainPtr
act_lookup(DomConn *c, const DomInfo *d, const char *file, int *err)
{
    virConnectPtr vc = conn_get_virt(c);
    virDomainPtr dom;

    if (!vc) {
        *err = act_refuse(c, d, file, ENOTCONN, "libvirt is not connected (reconnecting)");
        return NULL;
    }
    dom = virDomainLookupByUUIDString(vc, d->uuid);
    if (!dom)
        *err = act_fail(c, d, file);
    virConnectClose(vc);
    return dom;
}

int
act_take_value(DomConn *c, const DomInfo *d, const char *file, const char *buf, size_t len,
               gboolean single_line, char **out)
{
    if (len > ACT_WRITE_MAX)
        return act_refuse(c, d, file, EFBIG, "write of %zu bytes refused: at most %d",
                          len, ACT_WRITE_MAX);
    if (memchr(buf, '\0', len))
        return act_refuse(c, d, file, EINVAL, "write refused: it contains a NUL byte");
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (single_line && memchr(buf, '\n', len))
        return act_refuse(c, d, file, EINVAL, "write refused: %s holds a single line", file);
    if (!g_utf8_validate(buf, len, NULL))
        return act_refuse(c, d, file, EINVAL, "write refused: not valid UTF-8");
    *out = g_strndup(buf, len);
    return 0;
}

/* The libvirt call for ACT from STATE; *CALLED false when the guest is already there.
 * Actions that need a running guest are refused here (EBUSY, "operation invalid in the
 * current state") so every driver answers alike. 0, -1 (libvirt error) or -EBUSY. */
static int
act_state_call(virDomainPtr dom, StateAction act, int state, gboolean *called)
{
    gboolean active = state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED &&
                      state != VIR_DOMAIN_NOSTATE;

    *called = TRUE;
    switch (act) {
    case STATE_ACT_START:
        if (state == VIR_DOMAIN_PAUSED)
            return virDomainResume(dom);
        if (state == VIR_DOMAIN_PMSUSPENDED)
            return virDomainPMWakeup(dom, 0);
        if (!active)
            return virDomainCreate(dom);
        break;
    case STATE_ACT_SHUTDOWN:
        if (active && state != VIR_DOMAIN_SHUTDOWN)
            return virDomainShutdown(dom);
        break;
    case STATE_ACT_DESTROY:
        if (active)
            return virDomainDestroy(dom);
        break;
    case STATE_ACT_SUSPEND:
        if (!active)
            return -EBUSY;
        if (state != VIR_DOMAIN_PAUSED)
            return virDomainSuspend(dom);
        break;
    case STATE_ACT_RESUME:
        if (state == VIR_DOMAIN_PAUSED)
            return virDomainResume(dom);
        if (!active)
            return -EBUSY;
        break;
    case STATE_ACT_REBOOT:
        return active ? virDomainReboot(dom, 0) : -EBUSY;
    case STATE_ACT_RESET:
        return active ? virDomainReset(dom, 0) : -EBUSY;
    }
    *called = FALSE;
    return 0;
}

int
act_state(DomConn *c, const DomInfo *d, const char *buf, size_t len)
{
    virDomainPtr dom = NULL;
    StateAction act;
    gboolean called;
    int state;
    int reason;
    int ret;

    if (len > ACT_WRITE_MAX)
        return act_refuse(c, d, "state", EFBIG, "write of %zu bytes refused: at most %d",
                          len, ACT_WRITE_MAX);
    if (memchr(buf, '\0', len))
        return act_refuse(c, d, "state", EINVAL, "write refused: it contains a NUL byte");
    if (state_action_parse(buf, len, &act) < 0) {
        g_autofree char *trimmed = g_strstrip(g_strndup(buf, len));
        g_autofree char *q = act_quote(trimmed, strlen(trimmed));

        return act_refuse(c, d, "state", EINVAL,
                          "unknown state word \"%s\": write running, start, shutdown, "
                          "shutoff, destroy, paused, suspend, resume, reboot or reset", q);
    }
    if (!(dom = act_lookup(c, d, "state", &ret)))
        return ret;
    if (virDomainGetState(dom, &state, &reason, 0) < 0) {
        ret = act_fail(c, d, "state");
        goto cleanup;
    }
    if ((ret = act_state_call(dom, act, state, &called)) == -EBUSY) {
        ret = act_refuse(c, d, "state", EBUSY, "cannot %s: the guest is %s",
                         state_action_name(act), state_name(state));
        goto cleanup;
    }
    if (ret < 0) {
        ret = act_fail(c, d, "state");
        goto cleanup;
    }
    ret = 0;
    if (called)
        conn_refresh_domain(c, d->uuid, NULL);

 cleanup:
    virDomainFree(dom);
    return ret;
}

int
act_autostart(DomConn *c, const DomInfo *d, const char *buf, size_t len)
{
    g_autofree char *v = NULL;
    virDomainPtr dom = NULL;
    int on;
    int ret;

    if ((ret = act_take_value(c, d, "autostart", buf, len, TRUE, &v)) < 0)
        return ret;
    g_strstrip(v);
    if (strcmp(v, "1") == 0)
        on = 1;
    else if (strcmp(v, "0") == 0)
        on = 0;
    else {
        g_autofree char *q = act_quote(v, strlen(v));

        return act_refuse(c, d, "autostart", EINVAL, "autostart takes 0 or 1, not \"%s\"", q);
    }
    if (!(dom = act_lookup(c, d, "autostart", &ret)))
        return ret;
    if (virDomainSetAutostart(dom, on) < 0) {
        ret = act_fail(c, d, "autostart");
        goto cleanup;
    }
    ret = 0;
    /* autostart has no libvirt event: refresh so the file shows the new value now */
    conn_refresh_domain(c, d->uuid, NULL);

 cleanup:
    virDomainFree(dom);
    return ret;
}

int
act_metadata(DomConn *c, const DomInfo *d, const char *file, const char *buf, size_t len)
{
    gboolean title = strcmp(file, "title") == 0;
    g_autofree char *v = NULL;
    virDomainPtr dom = NULL;
    unsigned int flags;
    int ret;

    if ((ret = act_take_value(c, d, file, buf, len, title, &v)) < 0)
        return ret;
    if (!(dom = act_lookup(c, d, file, &ret)))
        return ret;
    /* live and persistent config together, like virsh desc --live --config */
    flags = act_affect_flags(dom);
    if (virDomainSetMetadata(dom, title ? VIR_DOMAIN_METADATA_TITLE :
                             VIR_DOMAIN_METADATA_DESCRIPTION,
                             *v ? v : NULL, NULL, NULL, flags) < 0) {
        ret = act_fail(c, d, file);
        goto cleanup;
    }
    ret = 0;
    conn_refresh_domain(c, d->uuid, NULL);

 cleanup:
    virDomainFree(dom);
    return ret;
}

/* Flags for a change that should reach the running guest and, where libvirt allows, its
 * persistent config too. */
static unsigned int
act_affect_flags(virDomainPtr dom)
{
    if (virDomainIsActive(dom) == 1 && virDomainIsPersistent(dom) == 1)
        return VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;
    return VIR_DOMAIN_AFFECT_CURRENT;
}

int
act_device(DomConn *c, const DomInfo *d, int kind, const char *dev, const char *field,
           const char *buf, size_t len)
{
    g_autofree char *v = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *errmsg = NULL;
    g_autofree char *file = g_strdup_printf("devices/%s/%s/%s", dev_kind_dir(kind), dev, field);
    const DevEntry *e = dev_model_find(dom_info_devices(d), kind, dev);
    virDomainPtr dom = NULL;
    unsigned int flags;
    int ret;

    if (!e)
        return -ENOENT;
    if ((ret = act_take_value(c, d, file, buf, len, TRUE, &v)) < 0)
        return ret;
    if (kind == DEV_DISK && strcmp(field, "source") == 0)
        ret = dev_update_disk_source(e->values[dev_field_index(kind, "xml")], v, &xml, &errmsg);
    else if (kind == DEV_IFACE && strcmp(field, "link_state") == 0)
        ret = dev_update_link_state(e->values[dev_field_index(kind, "xml")], g_strstrip(v),
                                    &xml, &errmsg);
    else
        return -EACCES;
    if (ret < 0)
        return act_refuse(c, d, file, -ret, "%s", errmsg ? errmsg : "invalid value");
    if (!(dom = act_lookup(c, d, file, &ret)))
        return ret;
    flags = act_affect_flags(dom);
    if (virDomainUpdateDeviceFlags(dom, xml, flags) < 0) {
        /* the persistent config may lack the device (hot-plugged): the live guest only */
        if (flags == VIR_DOMAIN_AFFECT_CURRENT ||
            virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
            ret = act_fail(c, d, file);
            goto cleanup;
        }
        virResetLastError();
    }
    ret = 0;
    conn_refresh_domain(c, d->uuid, NULL);

 cleanup:
    virDomainFree(dom);
    return ret;
}
