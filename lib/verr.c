/* verr.c - the libvirt error -> errno table (README "Errors" carries the same table) and
 * the one helper every module uses to report a refusal with its reason.
 * libvirt reports errors per thread; verr_take() reads the calling thread's last error,
 * which is why every libvirt call that can fail is followed by it on the same thread. */
#define G_LOG_DOMAIN "domfs-verr"

#include "verr.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static const struct {
    int code;
    int err;
} verr_table[] = {
    { VIR_ERR_NO_DOMAIN, ENOENT },
    { VIR_ERR_NO_DOMAIN_METADATA, ENOENT },
    { VIR_ERR_OPERATION_DENIED, EACCES },
    { VIR_ERR_ACCESS_DENIED, EACCES },
    { VIR_ERR_AUTH_FAILED, EACCES },
    { VIR_ERR_AUTH_CANCELLED, EACCES },
    { VIR_ERR_OPERATION_INVALID, EBUSY },
    { VIR_ERR_AGENT_UNRESPONSIVE, EBUSY },
    { VIR_ERR_OPERATION_TIMEOUT, EBUSY },
    { VIR_ERR_OPERATION_UNSUPPORTED, EOPNOTSUPP },
    { VIR_ERR_NO_SUPPORT, EOPNOTSUPP },
    { VIR_ERR_INVALID_ARG, EINVAL },
    { VIR_ERR_XML_ERROR, EINVAL },
    { VIR_ERR_XML_DETAIL, EINVAL },
    { VIR_ERR_CONFIG_UNSUPPORTED, EINVAL },
    { VIR_ERR_NO_CONNECT, ENOTCONN },
    { VIR_ERR_INVALID_CONN, ENOTCONN },
    { VIR_ERR_RPC, ENOTCONN },
    { VIR_ERR_OPERATION_ABORTED, ECANCELED },
};

int
verr_errno(const virError *err)
{
    if (!err)
        return EIO;
    /* the transport failed ("client socket is closed", "End of file while reading data") */
    if (err->code == VIR_ERR_SYSTEM_ERROR || err->code == VIR_ERR_INTERNAL_ERROR)
        return err->domain == VIR_FROM_RPC || err->domain == VIR_FROM_REMOTE ? ENOTCONN : EIO;
    for (size_t i = 0; i < G_N_ELEMENTS(verr_table); i++) {
        if (verr_table[i].code == err->code)
            return verr_table[i].err;
    }
    return EIO;
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

int
verr_set(char **msg, int err, const char *fmt, ...)
{
    va_list ap;

    if (msg) {
        g_free(*msg);
        va_start(ap, fmt);
        *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return -err;
}

const char *
verr_name(int err)
{
    const char *name = strerrorname_np(err);

    return name ? name : "EIO";
}
