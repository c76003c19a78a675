/* metrics.h - .domfs/metrics.prom: the Prometheus text exposition of every guest. */
#pragma once

#include <glib.h>

#include "tree.h"

/* CONN: a connection index, or -1 for all connections. The text is rendered at most once a
 * second (state, vcpus and memory from the cache, I/O counters from libvirt). 0 or -errno. */
int metrics_render(Tree *t, int conn, GString *out);
/* Drop what was rendered for tree T (it is being freed). */
void metrics_forget(Tree *t);
