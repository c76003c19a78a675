/* cons_seg.c - see cons_seg.h. The scan goes up while virtlogd renames files up, so a file
 * can be seen twice (the later, higher-numbered sighting wins: it was stat'ed after the
 * rename) but not missed; merging de-duplicates first. */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_seg.h"

#include "domfs_limits.h"

#define CONS_MAX_FILES (DOMFS_CONSOLE_MAX_BACKUPS + 1)

gboolean
cons_file_same(const ConsFileId *a, const ConsFileId *b)
{
    return a->dev == b->dev && a->ino == b->ino &&
           (!a->btime || !b->btime || a->btime == b->btime);
}

void
cons_segs_init(ConsSegs *s)
{
    s->segs = g_array_new(FALSE, FALSE, sizeof(ConsSeg));
    s->v_end = 0;
}

void
cons_segs_clear(ConsSegs *s)
{
    g_clear_pointer(&s->segs, g_array_unref);
}

uint64_t
cons_segs_first(const ConsSegs *s)
{
    return s->segs->len ? g_array_index(s->segs, ConsSeg, 0).vstart : s->v_end;
}

uint64_t
cons_segs_window(const ConsSegs *s, uint64_t max_bytes)
{
    uint64_t lo = s->v_end > max_bytes ? s->v_end - max_bytes : 0;

    return MAX(cons_segs_first(s), lo);
}

/* SEEN (newest first) as FILES (oldest first), each file once. */
static int
cons_segs_dedup(const ConsSeen *seen, int n_seen, ConsSeen *files)
{
    int nf = 0;

    for (int i = n_seen - 1; i >= 0; i--) {
        gboolean dup = FALSE;

        for (int j = 0; j < nf && !dup; j++)
            dup = cons_file_same(&files[j].id, &seen[i].id);
        if (!dup)
            files[nf++] = seen[i];
    }
    return nf;
}

/* For each old segment, the index of its file in FILES (or -1); returns the index of the
 * first file newer than every matched segment. */
static int
cons_segs_match(const ConsSegs *s, guint nseg, const ConsSeen *files, int nf, int *match)
{
    int last = -1;
    int first_new = 0;

    for (guint k = 0; k < nseg; k++)
        match[k] = -1;
    for (int i = 0; i < nf; i++) {
        for (guint k = (guint)(last + 1); k < nseg; k++) {
            const ConsSeg *sg = &g_array_index(s->segs, ConsSeg, k);
            gboolean growable = k == nseg - 1 && sg->vstart + sg->length == s->v_end;

            if (!cons_file_same(&sg->id, &files[i].id))
                continue;
            if (!growable && files[i].size != sg->length)
                break; /* same inode number, other file: it is new or ignored */
            match[k] = i;
            last = (int)k;
            first_new = i + 1;
            break;
        }
    }
    return first_new;
}

void
cons_segs_merge(ConsSegs *s, const ConsSeen *seen, int n_seen, GArray *gone)
{
    ConsSeen files[CONS_MAX_FILES];
    int match[CONS_MAX_FILES + 1];
    guint nseg = MIN(s->segs->len, (guint)CONS_MAX_FILES + 1);
    g_autoptr(GArray) out = g_array_sized_new(FALSE, FALSE, sizeof(ConsSeg), n_seen + 1);
    int nf = cons_segs_dedup(seen, MIN(n_seen, CONS_MAX_FILES), files);
    int first_new = cons_segs_match(s, nseg, files, nf, match);

    for (guint k = 0; k < s->segs->len; k++) {
        ConsSeg sg = g_array_index(s->segs, ConsSeg, k);
        const ConsSeen *f;

        if (k >= nseg || match[k] < 0) {
            if (gone)
                g_array_append_val(gone, sg.id);
            continue;
        }
        f = &files[match[k]];
        sg.idx = f->idx;
        if (k == nseg - 1 && f->size > sg.length) {
            sg.length = f->size;
            s->v_end = sg.vstart + sg.length;
        } else if (k == nseg - 1 && f->size < sg.length) {
            /* truncated in place: the same file, but its old bytes are gone, so what it
             * holds now is new and goes after everything */
            sg.vstart = s->v_end;
            sg.length = f->size;
            s->v_end += f->size;
        }
        g_array_append_val(out, sg);
    }
    for (int i = first_new; i < nf; i++) {
        ConsSeg sg = { files[i].id, s->v_end, files[i].size, files[i].idx };

        s->v_end += files[i].size;
        g_array_append_val(out, sg);
    }
    g_array_set_size(s->segs, 0);
    g_array_append_vals(s->segs, out->data, out->len);
}
