/* dom_note.h - what domfs itself notes on a guest: the last failed write (the `error`
 * file, also logged) and the migrate status line. Both are the guest's DomLocal, changed
 * with the cache's read-modify-write so they never race a refresh. */
#pragma once

#include "dom_cache.h"

/* Record a failed write of FILE on guest UUID: "<UTC time> <file> <ERRNO>: <message>",
 * and a warning in the daemon log naming HOST and the guest. */
void dom_note_error(DomCache *cache, const char *host, const char *uuid, const char *file,
                    int err, const char *msg);
/* Record a line in `error` that is not a failure of the last write (e.g. what libvirt
 * answered long after a write timed out): "<UTC time> <file>: <message>". */
void dom_note_later(DomCache *cache, const char *host, const char *uuid, const char *file,
                    const char *msg);
/* Publish a new migrate status line. */
void dom_note_migrate(DomCache *cache, const char *uuid, const char *status);
/* Publish what the guest's agent and leases said (a reference is taken); nothing when it
 * equals what the guest shows already. */
struct AgentInfo;
void dom_note_agent(DomCache *cache, const char *uuid, struct AgentInfo *agent);
