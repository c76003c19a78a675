/* metrics.h - .domfs/metrics.prom: the Prometheus text exposition (0.0.4, no timestamps,
 * valid for node_exporter's textfile collector) of every guest of some hosts, rendered
 * from the domain caches and the background statistics: a read never calls libvirt. */
#pragma once

#include <glib.h>

#include "host.h"

typedef struct MetricsCache MetricsCache;

MetricsCache *metrics_cache_new(void);
void metrics_cache_free(MetricsCache *mc);
/* The text of VIEW (a host index, or -1 for all of HOSTS): rendered again when a cache or
 * the statistics changed, or DOMFS_METRICS_REUSE_US after the last render. A new
 * reference to shared bytes. */
GBytes *metrics_get(MetricsCache *mc, Host **hosts, guint n_hosts, int view);
/* Render now. */
void metrics_render(Host **hosts, guint n_hosts, GString *out);
