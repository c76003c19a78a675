/* fs_istore.c - the inode and handle store in a memfd (see fs_istore.h for the why).
 *
 * Layout: a 4 KiB header, then two regions. The header's `state` word holds the active
 * region and its generation; it is the only word ever changed in place, with one atomic
 * store, so a reader sees either the old region or the new one, never a mix. A region is
 * a generation number and a log of records, each with a CRC32C over the region's
 * generation, its sequence number and its bytes: the replay stops at the first record
 * that does not check out (torn by a kill, or left over from an older generation). Writes
 * go through a shared mapping: a store the process made is in the memfd once made, so a
 * SIGKILL loses at most the record being written. */
#include "fs_istore.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ISTORE_MAGIC 0x31534946534d4f44ull   /* "DOMFSIS1", little-endian */
#define ISTORE_VERSION 1u
#define ISTORE_HEADER_BYTES 4096u
#define ISTORE_REGION_HDR_BYTES 16u
#define ISTORE_REC_HDR_BYTES 16u
#define ISTORE_REC_MAX (ISTORE_REC_HDR_BYTES + 32u + ISTORE_NAME_MAX + 8u)
#define ISTORE_MIN_REGION_BYTES (64u << 10)
#define ISTORE_MAX_REGION_BYTES (1ull << 34)
#define ISTORE_STATE_BROKEN (1ull << 63)
#define ISTORE_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
/* Compact once the log is this many times what the last compaction (or load) left, and at
 * least ISTORE_COMPACT_MIN_BYTES: what the store's pages cost in memory (a shared mapping
 * counts in the resident set of the server and of the supervisor) stays a small multiple
 * of the live set, however many handles come and go, while each record is still copied a
 * bounded number of times on average. */
#define ISTORE_COMPACT_FACTOR 4u
#define ISTORE_COMPACT_MIN_BYTES (1u << 20)

enum {
    ISTORE_REC_NODE = 1,     /* u64 ino, parent, nlookup; u32 flags, name_len; name */
    ISTORE_REC_DROP = 2,     /* u64 ino */
    ISTORE_REC_HANDLE = 3,   /* u64 fh; data */
    ISTORE_REC_HDROP = 4,    /* u64 fh */
    ISTORE_REC_IDS = 5,      /* u64 next_ino, next_fh */
};

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t header_bytes;
    uint64_t region_bytes;
    uint64_t state;          /* generation << 1 | active region, or ISTORE_STATE_BROKEN */
} IstoreHeader;

typedef struct {
    uint64_t generation;
    uint64_t reserved;
} IstoreRegionHdr;

typedef struct {
    uint32_t crc;
    uint16_t type;
    uint16_t len;            /* payload bytes (the record is padded to 8) */
    uint64_t seq;
} IstoreRecHdr;

typedef struct {
    uint64_t ino;
    uint64_t parent;
    uint64_t nlookup;
    uint32_t flags;
    uint32_t name_len;
} IstoreNodeFixed;

typedef struct {
    uint64_t ino;            /* the hash key points here */
    uint64_t parent;
    uint64_t nlookup;
    uint32_t flags;
    char name[];
} IstoreNodeEnt;

typedef struct {
    uint64_t fh;             /* the hash key points here */
    size_t len;
    unsigned char data[];
} IstoreHandleEnt;

struct Istore {
    GMutex lock;
    int fd;
    unsigned char *map;
    size_t map_bytes;
    uint64_t region_bytes;
    unsigned active;
    uint64_t generation;
    uint64_t off;            /* next record, from the active region's first record */
    uint64_t base_off;       /* off after the last compaction or load */
    uint64_t seq;
    GHashTable *nodes;       /* &ino -> IstoreNodeEnt */
    GHashTable *handles;     /* &fh -> IstoreHandleEnt */
    uint64_t next_ino;
    uint64_t next_fh;
    uint64_t compactions;
    uint64_t dropped_tail;
    bool broken;
};

/* ---- CRC32C (Castagnoli): the CPU's instruction where there is one, else a table ----
 *
 * Every record the store writes is checksummed (a lookup, an open, a release each write
 * one): the bytewise table was a tenth of the daemon's time in an `ls -l` of 10000 guests.
 * Both ways compute the same CRC (an old and a new binary read each other's store). */

static uint32_t istore_crc_table[256];
static bool istore_crc_use_hw;

static gpointer
istore_crc_init(gpointer unused)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        istore_crc_table[i] = c;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    istore_crc_use_hw = __builtin_cpu_supports("sse4.2");
#endif
    return NULL;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2")))
static uint32_t
istore_crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = crc;

    for (; len >= sizeof(uint64_t); p += sizeof(uint64_t), len -= sizeof(uint64_t)) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        c = __builtin_ia32_crc32di(c, v);
    }
    crc = (uint32_t)c;
    while (len--)
        crc = __builtin_ia32_crc32qi(crc, *p++);
    return crc;
}
#endif

static uint32_t
istore_crc(uint32_t crc, const void *buf, size_t len)
{
    static GOnce once = G_ONCE_INIT;
    const unsigned char *p = buf;

    g_once(&once, istore_crc_init, NULL);
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
    if (istore_crc_use_hw)
        return ~istore_crc_hw(crc, p, len);
#endif
    while (len--)
        crc = istore_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* CRC of a record: the generation, then the header after its crc field, then the payload */
static uint32_t
istore_rec_crc(uint64_t generation, const IstoreRecHdr *h, const void *payload)
{
    uint32_t crc = istore_crc(0, &generation, sizeof(generation));

    crc = istore_crc(crc, &h->type, sizeof(*h) - offsetof(IstoreRecHdr, type));
    return istore_crc(crc, payload, h->len);
}

/* ---- layout ---- */

static IstoreHeader *
istore_header(Istore *st)
{
    return (IstoreHeader *)st->map;
}

static unsigned char *
istore_region(Istore *st, unsigned r)
{
    return st->map + ISTORE_HEADER_BYTES + (size_t)r * st->region_bytes;
}

static uint64_t
istore_capacity(Istore *st)
{
    return st->region_bytes - ISTORE_REGION_HDR_BYTES;
}

static unsigned char *
istore_records(Istore *st, unsigned r)
{
    return istore_region(st, r) + ISTORE_REGION_HDR_BYTES;
}

int
istore_create(size_t region_bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    IstoreHeader h = { 0 };
    int fd;

    if (region_bytes == 0)
        region_bytes = ISTORE_DEFAULT_REGION_BYTES;
    region_bytes = (region_bytes + page - 1) / page * page;
    if (region_bytes < ISTORE_MIN_REGION_BYTES || region_bytes > ISTORE_MAX_REGION_BYTES)
        return -EINVAL;
    fd = memfd_create("domfs-istore", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    h.magic = ISTORE_MAGIC;
    h.version = ISTORE_VERSION;
    h.header_bytes = ISTORE_HEADER_BYTES;
    h.region_bytes = region_bytes;
    h.state = 0;             /* generation 0, region 0: an empty log */
    if (ftruncate(fd, ISTORE_HEADER_BYTES + 2 * (off_t)region_bytes) < 0 ||
        pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int err = -errno;

        close(fd);
        return err;
    }
    return fd;
}

/* ---- the in-memory live set ---- */

static void
istore_set_node(Istore *st, const IstoreNodeFixed *f, const char *name)
{
    IstoreNodeEnt *e = g_hash_table_lookup(st->nodes, &f->ino);

    /* the common case, a lookup count that changed: in place */
    if (e && strlen(e->name) == f->name_len && memcmp(e->name, name, f->name_len) == 0) {
        e->parent = f->parent;
        e->nlookup = f->nlookup;
        e->flags = f->flags;
        return;
    }
    e = g_malloc(sizeof(*e) + f->name_len + 1);

    e->ino = f->ino;
    e->parent = f->parent;
    e->nlookup = f->nlookup;
    e->flags = f->flags;
    memcpy(e->name, name, f->name_len);
    e->name[f->name_len] = '\0';
    g_hash_table_replace(st->nodes, &e->ino, e);
    if (f->ino >= st->next_ino)
        st->next_ino = f->ino + 1;
}

static void
istore_set_handle(Istore *st, uint64_t fh, const void *data, size_t len)
{
    IstoreHandleEnt *e = g_malloc(sizeof(*e) + len);

    e->fh = fh;
    e->len = len;
    memcpy(e->data, data, len);
    g_hash_table_replace(st->handles, &e->fh, e);
    if (fh >= st->next_fh)
        st->next_fh = fh + 1;
}

static bool
istore_apply(Istore *st, const IstoreRecHdr *h, const unsigned char *p)
{
    uint64_t a, b;

    switch (h->type) {
    case ISTORE_REC_NODE: {
        IstoreNodeFixed f;

        if (h->len < sizeof(f))
            return false;
        memcpy(&f, p, sizeof(f));
        if (f.name_len > ISTORE_NAME_MAX || sizeof(f) + f.name_len != h->len)
            return false;
        istore_set_node(st, &f, (const char *)p + sizeof(f));
        return true;
    }
    case ISTORE_REC_DROP:
    case ISTORE_REC_HDROP:
        if (h->len != sizeof(a))
            return false;
        memcpy(&a, p, sizeof(a));
        g_hash_table_remove(h->type == ISTORE_REC_DROP ? st->nodes : st->handles, &a);
        return true;
    case ISTORE_REC_HANDLE:
        if (h->len < sizeof(a) || h->len - sizeof(a) > ISTORE_HANDLE_DATA_MAX)
            return false;
        memcpy(&a, p, sizeof(a));
        istore_set_handle(st, a, p + sizeof(a), h->len - sizeof(a));
        return true;
    case ISTORE_REC_IDS:
        if (h->len != 2 * sizeof(a))
            return false;
        memcpy(&a, p, sizeof(a));
        memcpy(&b, p + sizeof(a), sizeof(b));
        st->next_ino = MAX(st->next_ino, a);
        st->next_fh = MAX(st->next_fh, b);
        return true;
    default:
        return false;
    }
}

/* Replay the active region; leaves st->off/seq after the last good record. */
static void
istore_replay(Istore *st)
{
    unsigned char *base = istore_records(st, st->active);
    uint64_t cap = istore_capacity(st);
    uint64_t off = 0;
    uint64_t seq = 0;

    for (;;) {
        IstoreRecHdr h;
        size_t total;

        if (off + ISTORE_REC_HDR_BYTES > cap)
            break;
        memcpy(&h, base + off, sizeof(h));
        total = ISTORE_ALIGN8(ISTORE_REC_HDR_BYTES + (size_t)h.len);
        if (h.type == 0 || h.seq != seq || off + total > cap ||
            istore_rec_crc(st->generation, &h, base + off + ISTORE_REC_HDR_BYTES) != h.crc ||
            !istore_apply(st, &h, base + off + ISTORE_REC_HDR_BYTES)) {
            if (h.type != 0 || h.len != 0 || h.crc != 0)
                st->dropped_tail = MIN((uint64_t)total, cap - off);
            break;
        }
        off += total;
        seq++;
    }
    st->off = off;
    st->base_off = off;
    st->seq = seq;
}

/* ---- writing ---- */

/* Write one record at the end of region R (offset *OFF, sequence *SEQ, generation GEN).
 * false when it does not fit. */
static bool
istore_write_rec(Istore *st, unsigned r, uint64_t gen, uint64_t *off, uint64_t *seq,
                 uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char *dst = istore_records(st, r) + *off;
    IstoreRecHdr h = { .type = type, .len = (uint16_t)(alen + blen), .seq = *seq };
    size_t total = ISTORE_ALIGN8(ISTORE_REC_HDR_BYTES + alen + blen);

    if (*off + total > istore_capacity(st))
        return false;
    memcpy(dst + ISTORE_REC_HDR_BYTES, a, alen);
    if (blen)
        memcpy(dst + ISTORE_REC_HDR_BYTES + alen, b, blen);
    memset(dst + ISTORE_REC_HDR_BYTES + alen + blen, 0,
           total - ISTORE_REC_HDR_BYTES - alen - blen);
    h.crc = istore_rec_crc(gen, &h, dst + ISTORE_REC_HDR_BYTES);
    memcpy(dst, &h, sizeof(h));
    *off += total;
    (*seq)++;
    return true;
}

static gint
istore_cmp_ino(gconstpointer a, gconstpointer b)
{
    const IstoreNodeEnt *x = *(IstoreNodeEnt *const *)a;
    const IstoreNodeEnt *y = *(IstoreNodeEnt *const *)b;

    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The live nodes, sorted by ino (an array of borrowed pointers). */
static GPtrArray *
istore_sorted_nodes(Istore *st)
{
    GPtrArray *v = g_ptr_array_sized_new(g_hash_table_size(st->nodes));
    GHashTableIter it;
    gpointer val;

    g_hash_table_iter_init(&it, st->nodes);
    while (g_hash_table_iter_next(&it, NULL, &val))
        g_ptr_array_add(v, val);
    g_ptr_array_sort(v, istore_cmp_ino);
    return v;
}

static bool
istore_write_node(Istore *st, unsigned r, uint64_t gen, uint64_t *off, uint64_t *seq,
                  const IstoreNodeEnt *e)
{
    IstoreNodeFixed f = {
        .ino = e->ino, .parent = e->parent, .nlookup = e->nlookup, .flags = e->flags,
        .name_len = (uint32_t)strlen(e->name),
    };

    return istore_write_rec(st, r, gen, off, seq, ISTORE_REC_NODE, &f, sizeof(f),
                            e->name, f.name_len);
}

/* Write the live set into the inactive region, then switch to it with one atomic store.
 * A kill at any point leaves either the old region or the new one active, both whole. */
static int
istore_compact(Istore *st)
{
    unsigned r = !st->active;
    uint64_t gen = st->generation + 1;
    uint64_t off = 0, seq = 0;
    uint64_t ids[2] = { st->next_ino, st->next_fh };
    IstoreRegionHdr rh = { .generation = gen };
    g_autoptr(GPtrArray) nodes = istore_sorted_nodes(st);
    GHashTableIter it;
    gpointer val;
    bool ok;

    memcpy(istore_region(st, r), &rh, sizeof(rh));
    ok = istore_write_rec(st, r, gen, &off, &seq, ISTORE_REC_IDS, ids, sizeof(ids), NULL, 0);
    for (guint i = 0; ok && i < nodes->len; i++)
        ok = istore_write_node(st, r, gen, &off, &seq, nodes->pdata[i]);
    g_hash_table_iter_init(&it, st->handles);
    while (ok && g_hash_table_iter_next(&it, NULL, &val)) {
        IstoreHandleEnt *e = val;

        ok = istore_write_rec(st, r, gen, &off, &seq, ISTORE_REC_HANDLE, &e->fh,
                              sizeof(e->fh), e->data, e->len);
    }
    if (!ok)
        return -ENOSPC;
    /* the end of the log must read as an end, whatever an older generation left there */
    if (off + ISTORE_REC_HDR_BYTES <= istore_capacity(st))
        memset(istore_records(st, r) + off, 0, ISTORE_REC_HDR_BYTES);
    __atomic_store_n(&istore_header(st)->state, gen << 1 | r, __ATOMIC_RELEASE);
    /* give the old region's memory back; it reads as zeros from now on */
    fallocate(st->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              ISTORE_HEADER_BYTES + (off_t)st->active * st->region_bytes, st->region_bytes);
    st->active = r;
    st->generation = gen;
    st->off = off;
    st->base_off = off;
    st->seq = seq;
    st->compactions++;
    return 0;
}

static void
istore_mark_broken(Istore *st)
{
    st->broken = true;
    __atomic_store_n(&istore_header(st)->state, ISTORE_STATE_BROKEN, __ATOMIC_RELEASE);
}

/* Append a record to the active region, compacting when it is full. Lock held. The
 * in-memory set must already hold the change (a compaction writes the set). */
static int
istore_append(Istore *st, uint16_t type, const void *a, size_t alen, const void *b,
              size_t blen)
{
    if (st->broken)
        return -ENOSPC;
    /* early, while there is room: a failure is no loss then (the log goes on) */
    if (st->off > MAX((uint64_t)ISTORE_COMPACT_MIN_BYTES, ISTORE_COMPACT_FACTOR * st->base_off) &&
        istore_compact(st) < 0)
        st->base_off = st->off;   /* not again before the log has grown as much again */
    if (istore_write_rec(st, st->active, st->generation, &st->off, &st->seq, type, a, alen,
                         b, blen))
        return 0;
    /* a live set over half a region would make every few appends compact again */
    if (istore_compact(st) < 0 || st->off > istore_capacity(st) / 2) {
        istore_mark_broken(st);
        return -ENOSPC;
    }
    return 0;
}

/* ---- public ---- */

static int
istore_map(Istore *st)
{
    struct stat sb;
    IstoreHeader h;

    if (fstat(st->fd, &sb) < 0)
        return -errno;
    if (pread(st->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return -EINVAL;
    if (h.magic != ISTORE_MAGIC || h.version != ISTORE_VERSION ||
        h.header_bytes != ISTORE_HEADER_BYTES || h.region_bytes < ISTORE_MIN_REGION_BYTES ||
        h.region_bytes > ISTORE_MAX_REGION_BYTES ||
        (uint64_t)sb.st_size != ISTORE_HEADER_BYTES + 2 * h.region_bytes)
        return -EINVAL;
    st->region_bytes = h.region_bytes;
    st->map_bytes = sb.st_size;
    st->map = mmap(NULL, st->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        return -errno;
    }
    return 0;
}

static void
istore_free(Istore *st)
{
    if (st->map)
        munmap(st->map, st->map_bytes);
    if (st->nodes)
        g_hash_table_destroy(st->nodes);
    if (st->handles)
        g_hash_table_destroy(st->handles);
    g_mutex_clear(&st->lock);
    g_free(st);
}

int
istore_open(int fd, Istore **out)
{
    Istore *st = g_new0(Istore, 1);
    uint64_t state;
    IstoreRegionHdr rh;
    int ret;

    g_mutex_init(&st->lock);
    st->fd = fd;
    st->nodes = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    st->handles = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    st->next_ino = 1;
    st->next_fh = 1;
    if ((ret = istore_map(st)) < 0)
        goto fail;
    state = __atomic_load_n(&istore_header(st)->state, __ATOMIC_ACQUIRE);
    ret = -EINVAL;
    if (state & ISTORE_STATE_BROKEN)
        goto fail;
    st->active = state & 1;
    st->generation = state >> 1;
    memcpy(&rh, istore_region(st, st->active), sizeof(rh));
    if (rh.generation != st->generation)
        goto fail;
    istore_replay(st);
    if ((ret = istore_compact(st)) < 0) {
        istore_mark_broken(st);
        goto fail;
    }
    st->compactions = 0;
    *out = st;
    return 0;

 fail:
    istore_free(st);
    return ret;
}

void
istore_close(Istore *st)
{
    if (st)
        istore_free(st);
}

void
istore_foreach_node(Istore *st, IstoreNodeFn fn, void *opaque)
{
    g_autoptr(GPtrArray) nodes = NULL;

    g_mutex_lock(&st->lock);
    nodes = istore_sorted_nodes(st);
    for (guint i = 0; i < nodes->len; i++) {
        const IstoreNodeEnt *e = nodes->pdata[i];
        IstoreNode n = {
            .ino = e->ino, .parent = e->parent, .nlookup = e->nlookup, .flags = e->flags,
            .name = e->name,
        };

        fn(&n, opaque);
    }
    g_mutex_unlock(&st->lock);
}

void
istore_foreach_handle(Istore *st, IstoreHandleFn fn, void *opaque)
{
    GHashTableIter it;
    gpointer val;

    g_mutex_lock(&st->lock);
    g_hash_table_iter_init(&it, st->handles);
    while (g_hash_table_iter_next(&it, NULL, &val)) {
        const IstoreHandleEnt *e = val;

        fn(e->fh, e->data, e->len, opaque);
    }
    g_mutex_unlock(&st->lock);
}

uint64_t
istore_next_ino(Istore *st)
{
    uint64_t v;

    g_mutex_lock(&st->lock);
    v = st->next_ino;
    g_mutex_unlock(&st->lock);
    return v;
}

uint64_t
istore_next_fh(Istore *st)
{
    uint64_t v;

    g_mutex_lock(&st->lock);
    v = st->next_fh;
    g_mutex_unlock(&st->lock);
    return v;
}

void
istore_reserve(Istore *st, uint64_t next_ino, uint64_t next_fh)
{
    uint64_t ids[2];

    g_mutex_lock(&st->lock);
    st->next_ino = MAX(st->next_ino, next_ino);
    st->next_fh = MAX(st->next_fh, next_fh);
    ids[0] = st->next_ino;
    ids[1] = st->next_fh;
    istore_append(st, ISTORE_REC_IDS, ids, sizeof(ids), NULL, 0);
    g_mutex_unlock(&st->lock);
}

int
istore_node_put(Istore *st, const IstoreNode *node)
{
    size_t len;
    IstoreNodeFixed f;
    int ret;

    if (!node->name || node->ino == 0)
        return -EINVAL;
    len = strlen(node->name);
    if (len > ISTORE_NAME_MAX)
        return -ENAMETOOLONG;
    f = (IstoreNodeFixed){
        .ino = node->ino, .parent = node->parent, .nlookup = node->nlookup,
        .flags = node->flags, .name_len = (uint32_t)len,
    };
    g_mutex_lock(&st->lock);
    istore_set_node(st, &f, node->name);
    ret = istore_append(st, ISTORE_REC_NODE, &f, sizeof(f), node->name, len);
    g_mutex_unlock(&st->lock);
    return ret;
}

int
istore_node_drop(Istore *st, uint64_t ino)
{
    int ret;

    g_mutex_lock(&st->lock);
    g_hash_table_remove(st->nodes, &ino);
    ret = istore_append(st, ISTORE_REC_DROP, &ino, sizeof(ino), NULL, 0);
    g_mutex_unlock(&st->lock);
    return ret;
}

int
istore_handle_put(Istore *st, uint64_t fh, const void *data, size_t len)
{
    int ret;

    if (len > ISTORE_HANDLE_DATA_MAX || (len && !data))
        return -EINVAL;
    g_mutex_lock(&st->lock);
    istore_set_handle(st, fh, data, len);
    ret = istore_append(st, ISTORE_REC_HANDLE, &fh, sizeof(fh), data, len);
    g_mutex_unlock(&st->lock);
    return ret;
}

int
istore_handle_drop(Istore *st, uint64_t fh)
{
    int ret;

    g_mutex_lock(&st->lock);
    g_hash_table_remove(st->handles, &fh);
    ret = istore_append(st, ISTORE_REC_HDROP, &fh, sizeof(fh), NULL, 0);
    g_mutex_unlock(&st->lock);
    return ret;
}

void
istore_stats(Istore *st, IstoreStats *out)
{
    g_mutex_lock(&st->lock);
    *out = (IstoreStats){
        .nodes = g_hash_table_size(st->nodes),
        .handles = g_hash_table_size(st->handles),
        .region_bytes = st->region_bytes,
        .used_bytes = ISTORE_REGION_HDR_BYTES + st->off,
        .compactions = st->compactions,
        .generation = st->generation,
        .dropped_tail = st->dropped_tail,
    };
    g_mutex_unlock(&st->lock);
}
