/* verr.c - the libvirt error -> errno table (README "Errors" carries the same table).
 * libvirt reports errors per thread; verr_take() reads the calling thread's last error,
 * which is why every libvirt call that can fail is followed by it on the same thread. */
#include "verr.h"

#include <errno.h>
#include <glib.h>

int
verr_errno(const virError *err)
{
    if (!err)
        return EIO;
    switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_METADATA:
        return ENOENT;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
        return EACCES;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
    case VIR_ERR_OPERATION_TIMEOUT:
        if (err->code == VIR_ERR_NO_SUPPORT || err->code == VIR_ERR_OPERATION_UNSUPPORTED)
            return EOPNOTSUPP;
        return EBUSY;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
        return EINVAL;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_RPC:
        return ENOTCONN;
    case VIR_ERR_SYSTEM_ERROR:
        if (err->domain == VIR_FROM_RPC || err->domain == VIR_FROM_REMOTE)
            return ENOTCONN;
        return EIO;
    case VIR_ERR_OPERATION_ABORTED:
        return ECANCELED;
    default:
        return EIO;
    }
}

int
verr_take(char **msg)
{
    virErrorPtr err = virGetLastError();
    int e = verr_errno(err);

    *msg = g_strdup(err && err->message ? err->message : "unknown libvirt error");
    virResetLastError();
    return e;
}
