/* stop_wait.c - see stop_wait.h. A short sleep loop: shutdown only, never a request. */
#define G_LOG_DOMAIN "domfs-stop"

#include "stop_wait.h"

#include "domfs_limits.h"

#define STOP_WAIT_POLL_US (10 * G_TIME_SPAN_MILLISECOND)

gboolean
stop_wait(gint *value, gint want)
{
    gint64 end = g_get_monotonic_time() + DOMFS_STOP_WAIT_US;

    while (g_atomic_int_get(value) != want) {
        if (g_get_monotonic_time() >= end)
            return FALSE;
        g_usleep(STOP_WAIT_POLL_US);
    }
    return TRUE;
}
