/* stop_wait.h - waiting, at shutdown, for a thread that may be stuck in a libvirt call.
 *
 * Why: a thread blocked on a host that stopped answering never returns; shutdown must not
 * hang on it. Each module's stop function signals its threads, then waits at most
 * DOMFS_STOP_WAIT_US for them to say they are done (an atomic flag or counter they set
 * last); when they do not, the module and what it uses are left behind (the process is
 * exiting) instead of being freed under the stuck thread. */
#pragma once

#include <glib.h>

/* Wait until *VALUE (read atomically) equals WANT, at most DOMFS_STOP_WAIT_US. FALSE when
 * it never did. */
gboolean stop_wait(gint *value, gint want);
