/* fuzz_dev_model.c - fuzz target for dev_model_parse() and dev_update_*().
 *
 * LLVMFuzzerTestOneInput() parses the input, checks the model's invariants (every name one
 * safe, unique path component; every value present; a refusal is exactly -EINVAL) and feeds
 * every entry's xml to dev_update, checking that a successful update reads back as asked.
 * Any violation abort()s, which both libFuzzer and `meson test` report.
 *
 * Two ways to run it:
 * - libFuzzer (coverage-guided): build with
 *     clang -fsanitize=fuzzer,address,undefined -DDOMFS_LIBFUZZER -D_GNU_SOURCE -Ilib \
 *       tests/fuzz/fuzz_dev_model.c lib/dev_model.c lib/dev_update.c lib/name_escape.c \
 *       $(pkg-config --cflags --libs glib-2.0 libxml-2.0) -o fuzz_dev_model
 *   and run ./fuzz_dev_model -max_len=65536 CORPUS_DIR tests/fixtures
 * - without libFuzzer (what `meson test --suite fuzz` does): main() below runs every file of
 *   the corpus directory argv[1], then argv[2] (default 20000) iterations of deterministic
 *   mutations of it (fixed seed, so a failure reproduces): bit flips, byte changes, cuts,
 *   duplications, splices between files, attribute values replaced by tricky tokens and
 *   XML fragments inserted. Mutants that still parse join the pool, so mutations compound.
 */
#include "dev_model.h"
#include "dev_xml.h"
#include "dev_update.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_dev_model: %s:%d: invariant failed: %s\n", __FILE__,   \
                    __LINE__, #cond);                                                    \
            abort();                                                                     \
        }                                                                                \
    } while (0)

static const char *const update_paths[] = {
    "", "/isos/plain.iso", "/isos/it's \"q\" <b> & c.iso", "/", "relative.iso", "/a\nb",
};

static void
check_names(const DevModel *m)
{
    for (int k = 0; k < DEV_N_KINDS; k++) {
        GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

        CHECK(m->entries[k] != NULL);
        for (guint i = 0; i < m->entries[k]->len; i++) {
            const DevEntry *e = g_ptr_array_index(m->entries[k], i);
            size_t len;

            CHECK(e && e->name && e->values);
            len = strlen(e->name);
            CHECK(len > 0 && len <= 255);
            CHECK(e->name[0] != '.');
            CHECK(strchr(e->name, '/') == NULL);
            for (size_t j = 0; j < len; j++)
                CHECK((unsigned char)e->name[j] >= 0x20 && e->name[j] != 0x7f);
            CHECK(!g_hash_table_contains(seen, e->name));
            g_hash_table_add(seen, e->name);
            for (size_t f = 0; f < dev_n_fields(k); f++) {
                size_t vlen;

                CHECK(e->values[f] != NULL);
                vlen = strlen(e->values[f]);
                CHECK(vlen == 0 || e->values[f][vlen - 1] != '\n');
            }
            CHECK(e->values[dev_n_fields(k)] == NULL);
            CHECK(dev_model_find(m, k, e->name) == e);
        }
        g_hash_table_unref(seen);
    }
}

/* the one entry of KIND in ELEMENT wrapped as a domain, or NULL */
static DevModel *
reread(const char *element)
{
    g_autofree char *doc = g_strdup_printf("<domain><devices>%s</devices></domain>", element);
    DevModel *m = NULL;

    if (dev_model_parse(doc, strlen(doc), &m) != 0)
        return NULL;
    return m;
}

static void
check_disk_update(const char *xml, const char *device)
{
    gboolean removable = strcmp(device, "cdrom") == 0 || strcmp(device, "floppy") == 0;

    for (size_t p = 0; p < G_N_ELEMENTS(update_paths); p++) {
        char *out = NULL;
        char *err = NULL;
        int r = dev_update_disk_source(xml, update_paths[p], &out, &err);

        CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
            g_autoptr(DevModel) m = reread(out);

            CHECK(removable && err == NULL && out != NULL);
            /* the medium libvirt will see is the one written */
            if (m && m->entries[DEV_DISK]->len == 1) {
                const DevEntry *e = g_ptr_array_index(m->entries[DEV_DISK], 0);

                CHECK(strcmp(e->values[dev_field_index(DEV_DISK, "source")],
                             update_paths[p]) == 0);
            }
        } else {
            CHECK(out == NULL && err != NULL);
        }
        g_free(out);
        g_free(err);
    }
}

static void
check_link_update(const char *xml)
{
    static const char *const states[] = { "up", "down", "sideways" };

    for (size_t s = 0; s < G_N_ELEMENTS(states); s++) {
        char *out = NULL;
        char *err = NULL;
        int r = dev_update_link_state(xml, states[s], &out, &err);

        CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
            g_autoptr(DevModel) m = reread(out);

            CHECK(s < 2 && out != NULL && err == NULL);
            if (m && m->entries[DEV_IFACE]->len == 1) {
                const DevEntry *e = g_ptr_array_index(m->entries[DEV_IFACE], 0);

                CHECK(strcmp(e->values[dev_field_index(DEV_IFACE, "link_state")],
                             states[s]) == 0);
            }
        } else {
            CHECK(out == NULL && err != NULL);
        }
        g_free(out);
        g_free(err);
    }
}

/* 1 when the input parsed, for the driver's statistics */
static int
run_one(const uint8_t *data, size_t size)
{
    DevModel *m = (DevModel *)0x1;
    int r = dev_model_parse((const char *)data, size, &m);
    g_autofree char *text = NULL;

    CHECK(r == 0 || r == -EINVAL);
    if (r != 0) {
        CHECK(m == NULL);
    } else {
        CHECK(m != NULL);
        check_names(m);
        for (guint i = 0; i < m->entries[DEV_DISK]->len; i++) {
            const DevEntry *e = g_ptr_array_index(m->entries[DEV_DISK], i);

            check_disk_update(e->values[dev_n_fields(DEV_DISK) - 1],
                              e->values[dev_field_index(DEV_DISK, "device")]);
        }
        for (guint i = 0; i < m->entries[DEV_IFACE]->len; i++) {
            const DevEntry *e = g_ptr_array_index(m->entries[DEV_IFACE], i);

            check_link_update(e->values[dev_n_fields(DEV_IFACE) - 1]);
        }
        dev_model_free(m);
    }
    /* dev_update also takes whatever the caller has, as a C string */
    if (size <= 1024 * 1024) {
        char *out = NULL;
        char *err = NULL;

        text = g_strndup((const char *)data, size);
        r = dev_update_disk_source(text, "/isos/a.iso", &out, &err);
        CHECK(r == 0 || r == -EINVAL);
        g_free(out);
        g_free(err);
        out = err = NULL;
        r = dev_update_link_state(text, "down", &out, &err);
        CHECK(r == 0 || r == -EINVAL);
        g_free(out);
        g_free(err);
    }
    return m != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_one(data, size);
    return 0;
}

#ifndef DOMFS_LIBFUZZER

#define DEFAULT_ITERATIONS 20000
#define POOL_MAX 512

static uint64_t rng_state = 0x646f6d6673ULL;  /* "domfs": fixed, so runs reproduce */

static uint64_t
rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t
rnd(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static const char *const values[] = {
    "", "0", "0x", "0xffffffff", "4294967296", "-1", " 1", "010", "0x10000", "..", "../..",
    "/", "%", "%2F", "&amp;", "&#10;", "&#9;", "&lt;&gt;", "&quot;", "pci", "drive", "ccw",
    "usb", "isa", "virtio-mmio", "network", "volume", "block", "dir", "file", "nvme",
    "vhostuser", "cdrom", "floppy", "lun", "disk", "tcp", "udp", "unix", "pty", "file", "null",
    "bind", "connect", "hostdev", "direct", "bridge", "user", "::1", "fd00::1", "vda", "sda",
    "on", "off", "open", "up", "down", "rbd", "nbd", "iscsi", "http", "\xc3\xa9", "\xff",
};

static const char *const fragments[] = {
    "<disk type='file' device='cdrom'>", "<disk type='network' device='floppy'>", "</disk>",
    "<disk/>", "<serial type='udp'>", "</serial>", "<interface type='hostdev'>",
    "</interface>", "<source/>", "<source mode='bind'/>", "<source protocol='nbd'>",
    "<host transport='unix' socket='/s'/>", "<host name='::1' port='1'/>", "</source>",
    "<target dev='vda' port='0' tray='open'/>", "<address type='pci' domain='0x10000'/>",
    "<address type='ccw' cssid='0xfe' ssid='0x3' devno='0xffff'/>", "<link state='down'/>",
    "<backingStore/>", "<driver name='qemu' type='raw'/>", "<readonly/>", "<![CDATA[",
    "]]>", "<!--", "-->", "<!DOCTYPE d [<!ENTITY a 'b'>]>", "&a;", "<devices>",
    "</devices>", "<?pi x?>", "<x:disk xmlns:x='urn:x'>", "\x00", "&#x7f;",
};

static void
mutate(GString *s, GPtrArray *pool)
{
    size_t pos = rnd(s->len + 1);

    switch (rnd(9)) {
    case 0:  /* flip a bit */
        if (s->len)
            s->str[rnd(s->len)] ^= (char)(1u << rnd(8));
        break;
    case 1: {  /* an interesting byte */
        static const char bytes[] = "<>&'\"/=;#x0\n\t%.-]!?";

        if (s->len)
            s->str[rnd(s->len)] = bytes[rnd(sizeof(bytes) - 1)];
        break;
    }
    case 2: {  /* cut out a range */
        size_t n = 1 + rnd(128);

        if (pos < s->len)
            g_string_erase(s, (gssize)pos, (gssize)MIN(s->len - pos, n));
        break;
    }
    case 3: {  /* duplicate a range */
        size_t from = rnd(s->len + 1);
        size_t want = 1 + rnd(512);
        size_t n = MIN(s->len - from, want);
        g_autofree char *copy = g_memdup2(s->str + from, n + 1);

        g_string_insert_len(s, (gssize)pos, copy, (gssize)n);
        break;
    }
    case 4:  /* truncate */
        g_string_truncate(s, pos);
        break;
    case 5: {  /* splice in part of another input */
        const GString *o = g_ptr_array_index(pool, rnd(pool->len));
        size_t from = rnd(o->len + 1);
        size_t want = 1 + rnd(2048);
        size_t n = MIN(o->len - from, want);

        g_string_insert_len(s, (gssize)pos, o->str + from, (gssize)n);
        break;
    }
    case 6:
    case 7: {  /* replace an attribute value: keeps the document well-formed */
        size_t start = rnd(s->len + 1);

        for (size_t i = start; i < s->len; i++) {
            if (s->str[i] == '=' && i + 1 < s->len && (s->str[i + 1] == '\'' ||
                                                       s->str[i + 1] == '"')) {
                char quote = s->str[i + 1];
                char *end = memchr(s->str + i + 2, quote, s->len - i - 2);

                if (end) {
                    size_t vstart = i + 2;

                    g_string_erase(s, (gssize)vstart, (gssize)((size_t)(end - s->str) - vstart));
                    if (rnd(8) == 0) {
                        /* a long one */
                        for (size_t j = 0, n = 200 + rnd(400); j < n; j++)
                            g_string_insert_c(s, (gssize)vstart, "x/.%"[rnd(4)]);
                    } else {
                        g_string_insert(s, (gssize)vstart, values[rnd(G_N_ELEMENTS(values))]);
                    }
                }
                break;
            }
        }
        break;
    }
    default: {  /* insert an XML fragment */
        const char *f = fragments[rnd(G_N_ELEMENTS(fragments))];

        g_string_insert_len(s, (gssize)pos, f, f[0] ? (gssize)strlen(f) : 1);
        break;
    }
    }
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *
load_corpus(const char *dir_path)
{
    g_autoptr(GError) err = NULL;
    GDir *dir = g_dir_open(dir_path, 0, &err);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *pool = g_ptr_array_new();
    const char *name;

    if (!dir) {
        fprintf(stderr, "fuzz_dev_model: %s\n", err->message);
        exit(2);
    }
    while ((name = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(dir);
    /* readdir order varies between file systems; the mutation sequence must not */
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *n = g_ptr_array_index(names, i);
        g_autofree char *path = g_build_filename(dir_path, n, NULL);
        char *data = NULL;
        gsize len = 0;

        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) ||
            !g_file_get_contents(path, &data, &len, NULL))
            continue;
        if (len <= DEV_XML_MAX + 1) {
            GString *s = g_string_new_len(data, (gssize)len);

            g_ptr_array_add(pool, s);
        }
        g_free(data);
    }
    g_ptr_array_unref(names);
    return pool;
}

static void
free_gstring(gpointer s)
{
    g_string_free(s, TRUE);
}

int
main(int argc, char **argv)
{
    GPtrArray *pool;
    long iterations = DEFAULT_ITERATIONS;
    guint n_seeds;
    long parsed = 0;
    guint next_slot = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    if (argc == 3)
        iterations = strtol(argv[2], NULL, 10);
    /* a GLib critical is a bug too */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    pool = load_corpus(argv[1]);
    g_ptr_array_set_free_func(pool, free_gstring);
    n_seeds = pool->len;
    if (n_seeds == 0) {
        fprintf(stderr, "fuzz_dev_model: no corpus files in %s\n", argv[1]);
        return 2;
    }
    for (guint i = 0; i < n_seeds; i++) {
        const GString *s = g_ptr_array_index(pool, i);

        run_one((const uint8_t *)s->str, s->len);
    }
    for (long it = 0; it < iterations; it++) {
        const GString *base = g_ptr_array_index(pool, rnd(pool->len));
        GString *s = g_string_new_len(base->str, (gssize)base->len);
        int ok;

        for (size_t m = 0, n = 1 + rnd(4); m < n; m++)
            mutate(s, pool);
        ok = run_one((const uint8_t *)s->str, s->len);
        parsed += ok;
        /* keep well-formed mutants (bounded pool, seeds never replaced) */
        if (ok && s->len < 256 * 1024) {
            if (pool->len < n_seeds + POOL_MAX) {
                g_ptr_array_add(pool, s);
                s = NULL;
            } else {
                GString *old = g_ptr_array_index(pool, n_seeds + next_slot);

                g_ptr_array_index(pool, n_seeds + next_slot) = s;
                next_slot = (next_slot + 1) % POOL_MAX;
                g_string_free(old, TRUE);
                s = NULL;
            }
        }
        if (s)
            g_string_free(s, TRUE);
    }
    printf("fuzz_dev_model: %u corpus files, %ld mutated inputs, %ld parsed as domains, "
           "no crash, no invariant broken\n", n_seeds, iterations, parsed);
    g_ptr_array_unref(pool);
    return 0;
}

#endif /* DOMFS_LIBFUZZER */
