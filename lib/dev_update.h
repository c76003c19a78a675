/* dev_update.h - the new device element for a write to a device file, built with libxml2
 * from the element's current XML (as libvirt reports it); the result goes to
 * virDomainUpdateDeviceFlags. Values are escaped by libxml2, never by hand. */
#pragma once

#include <stddef.h>

/* A cdrom's or floppy's <disk>: PATH non-empty inserts (replaces) the medium, an empty PATH
 * ejects. -EINVAL (and *errmsg) when the disk is not a cdrom/floppy, PATH is not absolute,
 * holds control characters, or is over 4096 bytes. */
int dev_update_disk_source(const char *disk_xml, const char *path, char **out_xml, char **errmsg);

/* An <interface>: STATE is "up" or "down". -EINVAL otherwise. */
int dev_update_link_state(const char *iface_xml, const char *state, char **out_xml, char **errmsg);
