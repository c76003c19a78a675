/* fs_tkwire.h - what the supervisor (fs_super.c) and its serving child (fs_takeover.c)
 * say to each other.
 *
 * Why a header of its own: an upgrade runs a new binary under the old supervisor, which
 * is never replaced, so this protocol is the one interface between versions. It only
 * grows: a new message type is ignored by an old peer, and TAKEOVER_PROTO changes only
 * if an old supervisor could not serve a new child (the child then refuses to start and
 * the old one keeps serving).
 *
 * The child is exec'd with the environment variable TAKEOVER_ENV set and these file
 * descriptors: the control socket (SOCK_SEQPACKET), the inode store's memfd, and, once a
 * FUSE connection exists, a duplicate of its /dev/fuse descriptor. */
#pragma once

#include <stdint.h>

#define TAKEOVER_ENV "DOMFS_TAKEOVER"
#define TAKEOVER_PROTO 1u
#define TAKEOVER_FD_CTL 3
#define TAKEOVER_FD_STORE 4
#define TAKEOVER_FD_FUSE 5
#define TAKEOVER_MSG_DATA_MAX 1024u  /* a TakeoverHello */
#define TAKEOVER_INIT_MAX 256u       /* bytes of one saved INIT request or reply */
#define TAKEOVER_EXIT_CONFIG 78      /* a child's exit status: bad config, do not respawn */

enum {
    /* supervisor -> child */
    TK_MSG_HELLO = 1,     /* arg: generation; data: TakeoverHello */
    TK_MSG_GO = 2,        /* the previous server has stopped: load the store and serve;
                           * after the TK_MSG_POLLERS that precede it */
    TK_MSG_STOP = 3,      /* hand over: stop reading, answer what is in flight, report */
    TK_MSG_POLLERS = 4,   /* data: up to TAKEOVER_POLLERS_PER_MSG TakeoverPoller: files
                           * polled with a wakeup pending from an earlier server */
    /* child -> supervisor */
    TK_MSG_FD = 16,       /* SCM_RIGHTS: the /dev/fuse descriptor of a fresh mount */
    TK_MSG_INIT = 17,     /* data: TakeoverHello's init part, once INIT was answered */
    TK_MSG_PREPARED = 18, /* start-up done, waiting for GO */
    TK_MSG_READY = 19,    /* serving */
    TK_MSG_STOPPED = 20,  /* no longer reading /dev/fuse nor writing the store; arg:
                           * requests abandoned while running (parked ones excepted) */
    TK_MSG_POLL_ADD = 21, /* data: a TakeoverPoller: an open file polled for a wakeup */
    TK_MSG_POLL_DEL = 22, /* arg: its kh: the file was released */
};

/* HELLO flags */
#define TK_HELLO_FAIL_RESENT 1u   /* answer resent requests EIO: they crashed the last ones */
#define TK_HELLO_FOREGROUND 2u    /* the supervisor is in the foreground: keep stdio */

typedef struct {
    uint32_t type;
    uint32_t len;          /* bytes of data used */
    uint64_t arg;
    unsigned char data[TAKEOVER_MSG_DATA_MAX];
} TakeoverMsg;

#define TAKEOVER_MSG_HDR ((uint32_t)(sizeof(TakeoverMsg) - TAKEOVER_MSG_DATA_MAX))

typedef struct {
    uint32_t proto;
    uint32_t flags;        /* TK_HELLO_* */
    uint32_t init_len;     /* 0: no connection yet (mount) or INIT never answered */
    uint32_t reply_len;
    unsigned char init[TAKEOVER_INIT_MAX];   /* the kernel's FUSE_INIT request */
    unsigned char reply[TAKEOVER_INIT_MAX];  /* the first server's reply to it */
} TakeoverHello;

/* A file that poll() waits on: the kernel's poll handle (FUSE_POLL's kh, one per open
 * file) and the server's file handle (fh, to see its FUSE_RELEASE). */
typedef struct {
    uint64_t kh;
    uint64_t fh;
} TakeoverPoller;

#define TAKEOVER_POLLERS_PER_MSG (TAKEOVER_MSG_DATA_MAX / sizeof(TakeoverPoller))
#define TAKEOVER_POLLERS_MAX 65536u  /* kept by the supervisor; more are not woken */
