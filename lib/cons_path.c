/* cons_path.c - see cons_path.h. */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_path.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "open_beneath.h"
#include "verr.h"

/* Bytes of the escaping table: every byte from 0x80 up stays as it is (UTF-8). */
#define CONS_QUOTE_KEEP 128

char *
cons_quote(const char *path)
{
    char keep[CONS_QUOTE_KEEP + 1];
    g_autofree char *esc = NULL;

    for (int i = 0; i < CONS_QUOTE_KEEP; i++)
        keep[i] = (char)(0x80 + i);
    keep[CONS_QUOTE_KEEP] = '\0';
    esc = g_strescape(path ? path : "", keep);
    return g_strdup_printf("\"%s\"", esc);
}

/* The normalised entries of DIRS (invalid ones left out). */
static GStrv
cons_dirs(char *const *dirs)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();

    for (gsize i = 0; dirs && dirs[i]; i++) {
        g_autofree char *d = path_dir_normalise(dirs[i]);

        if (d)
            g_strv_builder_add(b, d);
    }
    return g_strv_builder_end(b);
}

static int
cons_refusal(const char *xml_path, char *const *dirs, const char *why, char **errmsg)
{
    g_autofree char *q = cons_quote(xml_path);
    g_autoptr(GString) allowed = g_string_new(NULL);

    for (gsize i = 0; dirs[i]; i++) /* "/" is "" here, for the prefix test */
        g_string_append_printf(allowed, "%s%s", i ? ":" : "", *dirs[i] ? dirs[i] : "/");
    return verr_set(errmsg, EACCES, "console log %s refused: %s; allowed: %s", q, why,
                    allowed->len ? allowed->str : "(none)");
}

int
cons_resolve(const ConsPolicy *policy, const char *xml_path, char **local_path,
             char **errmsg)
{
    g_auto(GStrv) dirs = cons_dirs(policy ? policy->log_dirs : NULL);
    g_autofree char *root = NULL;
    const char *why = NULL;
    const char *rest = NULL;

    *local_path = NULL;
    if (path_check_normal(xml_path, &why) < 0)
        return cons_refusal(xml_path, dirs, why, errmsg);
    if (!path_best_dir(dirs, xml_path, &rest))
        return cons_refusal(xml_path, dirs, "not inside an allowed log directory (log_dirs)",
                            errmsg);
    if (!policy->log_root) {
        *local_path = g_strdup(xml_path);
        return 0;
    }
    if (!(root = path_dir_normalise(policy->log_root)))
        return cons_refusal(xml_path, dirs, "log_root is not an absolute, normalised "
                            "directory", errmsg);
    *local_path = g_strconcat(root, "/", rest, NULL);
    if (strlen(*local_path) >= PATH_MAX) {
        g_clear_pointer(local_path, g_free);
        return cons_refusal(xml_path, dirs, "path too long below log_root", errmsg);
    }
    return 0;
}
