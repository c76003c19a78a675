/* log.h - repeated refusals logged once.
 *
 * Why: a refused console log is looked up on every getattr of console.log (a `tail -f`
 * stats it every second): logging each refusal would fill the disk. (That each message
 * stays one line, whatever a guest name holds, is the log handler's job: fs/main.c.) */
#pragma once

#include <glib.h>

/* TRUE the first time KEY is seen (until log_once_reset(KEY)); remembers at most
 * DOMFS_LOG_ONCE_MAX keys, forgetting the oldest. Thread-safe. */
gboolean log_once(const char *key);
/* Forget KEY: the next log_once(KEY) is TRUE again (the condition went away). */
void log_once_reset(const char *key);
