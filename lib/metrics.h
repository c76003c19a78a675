/* metrics.h - .domfs/metrics.prom: the Prometheus text exposition of every guest. */
#pragma once

#include <glib.h>

#include "tree.h"

/* CONN: a connection index, or -1 for all connections. 0 or -errno. */
int metrics_render(Tree *t, int conn, GString *out);
