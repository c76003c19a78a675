/* dom_action.c - the libvirt side of writes to a guest's files.
 *
 * Parsing decides everything that does not need libvirt; running decides from the
 * domain's *current* state what to do (so the desired-state words are idempotent), calls
 * libvirt once, and refreshes the cache. User input only ever reaches libvirt as a parsed
 * word, a number, a metadata string libvirt itself escapes into its XML, or an element
 * libxml2 built. */
#define G_LOG_DOMAIN "domfs-action"

#include "dom_action.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "dev_model.h"
#include "dev_update.h"
#include "domfs_limits.h"
#include "verr.h"

/* User text inside an error message: printable, bounded. */
#define ACT_QUOTE_MAX 64

static char *
act_quote(const char *buf, size_t len)
{
    g_autofree char *cut = g_strndup(buf, MIN(len, ACT_QUOTE_MAX));

    return g_strescape(cut, NULL);
}

/* ---- parsing ---- */

static int
act_check_size(const char *buf, size_t len, char **errmsg)
{
    if (len > DOMFS_WRITE_MAX)
        return verr_set(errmsg, EFBIG, "write of %zu bytes refused: at most %d", len,
                        DOMFS_WRITE_MAX);
    if (memchr(buf, '\0', len))
        return verr_set(errmsg, EINVAL, "write refused: it contains a NUL byte");
    return 0;
}

int
act_take_value(const char *buf, size_t len, gboolean single_line, char **out, char **errmsg)
{
    int ret;

    if ((ret = act_check_size(buf, len, errmsg)) < 0)
        return ret;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (single_line && memchr(buf, '\n', len))
        return verr_set(errmsg, EINVAL, "write refused: this file holds a single line");
    if (!g_utf8_validate(buf, (gssize)len, NULL))
        return verr_set(errmsg, EINVAL, "write refused: not valid UTF-8");
    *out = g_strndup(buf, len);
    return 0;
}

int
act_parse_state(const char *buf, size_t len, StateAction *act, char **errmsg)
{
    g_autofree char *trimmed = NULL;
    g_autofree char *q = NULL;
    int ret;

    if ((ret = act_check_size(buf, len, errmsg)) < 0)
        return ret;
    if (state_action_parse(buf, len, act) == 0)
        return 0;
    trimmed = g_strstrip(g_strndup(buf, len));
    q = act_quote(trimmed, strlen(trimmed));
    return verr_set(errmsg, EINVAL, "unknown state word \"%s\": write running, start, "
                    "shutdown, shutoff, destroy, paused, suspend, resume, reboot or reset", q);
}

int
act_parse_autostart(const char *buf, size_t len, gboolean *on, char **errmsg)
{
    g_autofree char *v = NULL;
    g_autofree char *q = NULL;
    int ret;

    if ((ret = act_take_value(buf, len, TRUE, &v, errmsg)) < 0)
        return ret;
    g_strstrip(v);
    if (strcmp(v, "1") == 0 || strcmp(v, "0") == 0) {
        *on = v[0] == '1';
        return 0;
    }
    q = act_quote(v, strlen(v));
    return verr_set(errmsg, EINVAL, "autostart takes 0 or 1, not \"%s\"", q);
}

int
act_parse_device(const DomInfo *d, int kind, const char *dev, const char *field,
                 const char *buf, size_t len, char **xml, char **media, char **errmsg)
{
    const DevEntry *e = dev_model_find(dom_info_devices(d), kind, dev);
    const char *cur;
    g_autofree char *v = NULL;
    int ret;

    *media = NULL;
    if (!e)
        return verr_set(errmsg, ENOENT, "no such device");
    if ((ret = act_take_value(buf, len, TRUE, &v, errmsg)) < 0)
        return ret;
    cur = e->values[dev_field_index(kind, "xml")];
    if (kind == DEV_DISK && strcmp(field, "source") == 0) {
        if ((ret = dev_update_disk_source(cur, v, xml, errmsg)) == 0 && *v)
            *media = g_steal_pointer(&v);
        return ret;
    }
    if (kind == DEV_IFACE && strcmp(field, "link_state") == 0)
        return dev_update_link_state(cur, g_strstrip(v), xml, errmsg);
    return verr_set(errmsg, EACCES, "%s is read-only", field);
}

/* ---- running ---- */

/* The domain for a write: a new reference, or NULL with -errno and *msg. */
static virDomainPtr
act_lookup(DomConn *c, const char *uuid, int *err, char **msg)
{
    g_autoptr(virConnect) vc = conn_get_virt(c);
    virDomainPtr dom;

    if (!vc) {
        *err = verr_set(msg, ENOTCONN, "libvirt is not connected (reconnecting)");
        return NULL;
    }
    if (!(dom = virDomainLookupByUUIDString(vc, uuid)))
        *err = -verr_take(msg);
    return dom;
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
act_run_state(DomConn *c, const char *uuid, StateAction act, char **msg)
{
    g_autoptr(virDomain) dom = NULL;
    gboolean called = FALSE;
    int state;
    int reason;
    int ret;

    if (!(dom = act_lookup(c, uuid, &ret, msg)))
        return ret;
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return -verr_take(msg);
    ret = act_state_call(dom, act, state, &called);
    if (ret == -EBUSY)
        return verr_set(msg, EBUSY, "cannot %s: the guest is %s", state_action_name(act),
                        state_name(state));
    if (ret < 0)
        return -verr_take(msg);
    if (called)
        conn_refresh_domain(c, uuid, NULL);
    return 0;
}

int
act_run_autostart(DomConn *c, const char *uuid, gboolean on, char **msg)
{
    g_autoptr(virDomain) dom = NULL;
    int ret;

    if (!(dom = act_lookup(c, uuid, &ret, msg)))
        return ret;
    if (virDomainSetAutostart(dom, on ? 1 : 0) < 0)
        return -verr_take(msg);
    /* autostart has no libvirt event: refresh so the file shows the new value now */
    conn_refresh_domain(c, uuid, NULL);
    return 0;
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
act_run_metadata(DomConn *c, const char *uuid, gboolean title, const char *text, char **msg)
{
    g_autoptr(virDomain) dom = NULL;
    int ret;

    if (!(dom = act_lookup(c, uuid, &ret, msg)))
        return ret;
    /* live and persistent config together, like virsh desc --live --config */
    if (virDomainSetMetadata(dom, title ? VIR_DOMAIN_METADATA_TITLE
                                        : VIR_DOMAIN_METADATA_DESCRIPTION,
                             *text ? text : NULL, NULL, NULL, act_affect_flags(dom)) < 0)
        return -verr_take(msg);
    conn_refresh_domain(c, uuid, NULL);
    return 0;
}

int
act_run_device(DomConn *c, const char *uuid, const char *xml, char **msg)
{
    g_autoptr(virDomain) dom = NULL;
    unsigned int flags;
    int ret;

    if (!(dom = act_lookup(c, uuid, &ret, msg)))
        return ret;
    flags = act_affect_flags(dom);
    if (virDomainUpdateDeviceFlags(dom, xml, flags) < 0) {
        /* the persistent config may lack the device (hot-plugged): the live guest only */
        if (flags == VIR_DOMAIN_AFFECT_CURRENT ||
            virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
            return -verr_take(msg);
        virResetLastError();
    }
    conn_refresh_domain(c, uuid, NULL);
    return 0;
}
