/* stats_render.h - the statistics files of a guest (cpu.stat, vcpu.stat, memory.stat,
 * io.stat, net.stat) and its disks' capacity, allocation and physical, rendered from one
 * statistics snapshot in cgroup v2's formats: flat keyed ("key value" per line) and nested
 * keyed ("name key=value ..." per line), so existing parsers of cgroup files work. A key
 * libvirt does not report for the guest is left out; a guest without statistics (shut
 * off, or before the first fetch) has empty files. */
#pragma once

#include <glib.h>

#include "stats.h"

typedef enum {
    SF_CPU, SF_VCPU, SF_MEMORY, SF_IO, SF_NET,
    SF_N
} StatsFile;

/* Render file F of guest statistics D (NULL: none) into OUT. */
void stats_render(const StatsDom *d, StatsFile f, GString *out);
/* A disk's "capacity", "allocation" or "physical" (FIELD) for target TARGET, in bytes. */
void stats_render_disk(const StatsDom *d, const char *target, const char *field, GString *out);
/* Is FIELD a disk field rendered from statistics? */
gboolean stats_is_disk_field(const char *field);
