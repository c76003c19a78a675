/* mig_host.h - what a user writes to `migrate`: a destination host and options, validated
 * strictly before anything reaches libvirt, and the destination URI built from it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *host;          /* as written and validated: "h.example", "192.0.2.2", "[2001:db8::1]" */
    char *host_bare;     /* without brackets: "2001:db8::1"; for tcp:// data URIs use host */
    unsigned port;       /* 0 when none */
    bool offline;
    bool postcopy;
    bool persistent;     /* default true: the guest is defined on the destination */
    bool undefine_source;/* default true */
    bool compressed;
    bool auto_converge;
    bool unsafe;
    unsigned long bandwidth_mib; /* 0 = unlimited */
} MigRequest;

/* Validate a host (without options): 0, or -EINVAL with a message. */
int mig_host_validate(const char *host, size_t len, char **errmsg);
/* Parse "HOST [option...]\n". 0, or -EINVAL (*errmsg set) and *req untouched. */
int mig_request_parse(const char *buf, size_t len, MigRequest *req, char **errmsg);
void mig_request_clear(MigRequest *req);
/* True when the write is the word `cancel` (same trimming as mig_request_parse). Test it
 * first: "cancel" is also a valid host name and mig_request_parse accepts it as one. */
bool mig_request_is_cancel(const char *buf, size_t len);
/* TEMPLATE with every %h replaced by req->host (and %% by %). NULL if TEMPLATE has another
 * % sequence. */
char *mig_uri_build(const char *template_uri, const MigRequest *req);
