/* agent_info.c - see agent_info.h. The keys are libvirt's (virDomainGetGuestInfo,
 * "Guest agent information" in libvirt-domain.h); the lines are domfs's formats (README
 * "agent/"). */
#define G_LOG_DOMAIN "domfs-agent"

#include "agent_info.h"

#include <string.h>

#include "domfs_limits.h"

const char *const agent_file_names[AF_N] = {
    [AF_STATUS] = "status", [AF_HOSTNAME] = "hostname", [AF_OS] = "os",
    [AF_TIMEZONE] = "timezone", [AF_USERS] = "users", [AF_FILESYSTEMS] = "filesystems",
    [AF_INTERFACES] = "interfaces",
};

static const char *const agent_state_names[] = {
    [AGENT_UNAVAILABLE] = "unavailable",
    [AGENT_DISCONNECTED] = "disconnected",
    [AGENT_CONNECTED] = "connected",
};
G_STATIC_ASSERT(G_N_ELEMENTS(agent_state_names) == AGENT_CONNECTED + 1);

/* os.* keys and the names of their lines */
static const struct {
    const char *key;
    const char *line;
} agent_os_keys[] = {
    { "os.id", "id" }, { "os.name", "name" }, { "os.version", "version" },
    { "os.version-id", "version_id" }, { "os.kernel-release", "kernel_release" },
    { "os.kernel-version", "kernel_version" }, { "os.machine", "machine" },
};

const char *
agent_state_name(AgentState st)
{
    return (guint)st < G_N_ELEMENTS(agent_state_names) ? agent_state_names[st] : "unavailable";
}

static void
agent_info_clear(gpointer p)
{
    AgentInfo *a = p;

    for (int i = 0; i < AF_N; i++)
        g_free(a->text[i]);
    g_hash_table_unref(a->ip_by_mac);
    g_free(a->ip_source);
}

AgentInfo *
agent_info_new(void)
{
    AgentInfo *a = g_atomic_rc_box_new0(AgentInfo);

    for (int i = 0; i < AF_N; i++)
        a->text[i] = g_strdup("");
    a->ip_by_mac = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return a;
}

AgentInfo *
agent_info_ref(AgentInfo *a)
{
    return a ? g_atomic_rc_box_acquire(a) : NULL;
}

void
agent_info_unref(AgentInfo *a)
{
    if (a)
        g_atomic_rc_box_release_full(a, agent_info_clear);
}

/* ---- virDomainGetGuestInfo ---- */

static const char *
agent_param_str(virTypedParameterPtr params, int n, const char *key)
{
    const char *v = NULL;

    return virTypedParamsGetString(params, n, key, &v) == 1 && v ? v : NULL;
}

static gboolean
agent_param_u64(virTypedParameterPtr params, int n, const char *key, guint64 *v)
{
    unsigned long long u = 0;
    unsigned int ui = 0;

    if (virTypedParamsGetULLong(params, n, key, &u) == 1) {
        *v = u;
        return TRUE;
    }
    if (virTypedParamsGetUInt(params, n, key, &ui) == 1) {
        *v = ui;
        return TRUE;
    }
    return FALSE;
}

/* One value per line: control bytes a guest could send become '?' (a line is a line). */
static void
agent_append_clean(GString *out, const char *v)
{
    for (const char *p = v; *p; p++)
        g_string_append_c(out, (guchar)*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static char *
agent_text_os(virTypedParameterPtr params, int n)
{
    GString *s = g_string_new(NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(agent_os_keys); i++) {
        const char *v = agent_param_str(params, n, agent_os_keys[i].key);

        if (!v)
            continue;
        g_string_append_printf(s, "%s=", agent_os_keys[i].line);
        agent_append_clean(s, v);
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

static char *
agent_text_timezone(virTypedParameterPtr params, int n)
{
    const char *name = agent_param_str(params, n, "timezone.name");
    int offset = 0;
    GString *s = g_string_new(NULL);

    if (virTypedParamsGetInt(params, n, "timezone.offset", &offset) != 1 && !name)
        return g_string_free(s, FALSE);
    agent_append_clean(s, name ? name : "");
    g_string_append_printf(s, "%s%d\n", name ? " " : "", offset);
    return g_string_free(s, FALSE);
}

static char *
agent_text_users(virTypedParameterPtr params, int n)
{
    GString *s = g_string_new(NULL);
    guint64 count = 0;

    agent_param_u64(params, n, "user.count", &count);
    for (guint64 i = 0; i < count && i < DOMFS_AGENT_ITEMS_MAX; i++) {
        g_autofree char *kname = g_strdup_printf("user.%" G_GUINT64_FORMAT ".name", i);
        g_autofree char *kdom = g_strdup_printf("user.%" G_GUINT64_FORMAT ".domain", i);
        g_autofree char *ktime = g_strdup_printf("user.%" G_GUINT64_FORMAT ".login-time", i);
        const char *name = agent_param_str(params, n, kname);
        const char *dom = agent_param_str(params, n, kdom);
        guint64 ms = 0;

        if (!name)
            continue;
        agent_append_clean(s, name);
        if (dom) {
            g_string_append(s, " domain=");
            agent_append_clean(s, dom);
        }
        if (agent_param_u64(params, n, ktime, &ms))
            g_string_append_printf(s, " login_time=%" G_GUINT64_FORMAT, ms / 1000);
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

static char *
agent_text_filesystems(virTypedParameterPtr params, int n)
{
    GString *s = g_string_new(NULL);
    guint64 count = 0;

    agent_param_u64(params, n, "fs.count", &count);
    for (guint64 i = 0; i < count && i < DOMFS_AGENT_ITEMS_MAX; i++) {
        g_autofree char *kmnt = g_strdup_printf("fs.%" G_GUINT64_FORMAT ".mountpoint", i);
        g_autofree char *ktype = g_strdup_printf("fs.%" G_GUINT64_FORMAT ".fstype", i);
        g_autofree char *ktotal = g_strdup_printf("fs.%" G_GUINT64_FORMAT ".total-bytes", i);
        g_autofree char *kused = g_strdup_printf("fs.%" G_GUINT64_FORMAT ".used-bytes", i);
        const char *mnt = agent_param_str(params, n, kmnt);
        const char *type = agent_param_str(params, n, ktype);
        guint64 v;

        if (!mnt)
            continue;
        /* a mount point with a space stays one field */
        for (const char *p = mnt; *p; p++)
            g_string_append_c(s, *p == ' ' ? '?' : (guchar)*p < 0x20 ? '?' : *p);
        g_string_append_c(s, ' ');
        agent_append_clean(s, type && *type ? type : "-");
        if (agent_param_u64(params, n, ktotal, &v))
            g_string_append_printf(s, " total_bytes=%" G_GUINT64_FORMAT, v);
        if (agent_param_u64(params, n, kused, &v))
            g_string_append_printf(s, " used_bytes=%" G_GUINT64_FORMAT, v);
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

static void
agent_set_text(AgentInfo *a, AgentFile f, char *text)
{
    g_free(a->text[f]);
    a->text[f] = text;
}

void
agent_info_take_guest_info(AgentInfo *a, virTypedParameterPtr params, int n)
{
    const char *host = agent_param_str(params, n, "hostname");
    GString *h = g_string_new(NULL);

    if (host) {
        agent_append_clean(h, host);
        g_string_append_c(h, '\n');
    }
    agent_set_text(a, AF_HOSTNAME, g_string_free(h, FALSE));
    agent_set_text(a, AF_OS, agent_text_os(params, n));
    agent_set_text(a, AF_TIMEZONE, agent_text_timezone(params, n));
    agent_set_text(a, AF_USERS, agent_text_users(params, n));
    agent_set_text(a, AF_FILESYSTEMS, agent_text_filesystems(params, n));
}

/* ---- virDomainInterfaceAddresses ---- */

static void
agent_append_addrs(GString *s, virDomainInterfacePtr ifc)
{
    for (unsigned int k = 0; k < ifc->naddrs; k++) {
        const virDomainIPAddress *ip = &ifc->addrs[k];

        if (!ip->addr)
            continue;
        if (s->len)
            g_string_append_c(s, ' ');
        agent_append_clean(s, ip->addr);
        g_string_append_printf(s, "/%u", ip->prefix);
    }
}

void
agent_info_take_ifaces(AgentInfo *a, virDomainInterfacePtr *ifaces, int n,
                       gboolean from_agent)
{
    GString *lines = g_string_new(NULL);

    for (int i = 0; i < n; i++) {
        virDomainInterfacePtr ifc = ifaces[i];
        g_autoptr(GString) addrs = g_string_new(NULL);

        agent_append_addrs(addrs, ifc);
        if (ifc->hwaddr && *ifc->hwaddr && addrs->len)
            g_hash_table_replace(a->ip_by_mac, g_ascii_strdown(ifc->hwaddr, -1),
                                 g_strdup(addrs->str));
        agent_append_clean(lines, ifc->name ? ifc->name : "-");
        g_string_append_c(lines, ' ');
        agent_append_clean(lines, ifc->hwaddr && *ifc->hwaddr ? ifc->hwaddr : "-");
        if (addrs->len)
            g_string_append_printf(lines, " %s", addrs->str);
        g_string_append_c(lines, '\n');
    }
    if (from_agent)
        agent_set_text(a, AF_INTERFACES, g_string_free(lines, FALSE));
    else
        g_string_free(lines, TRUE);
    g_free(a->ip_source);
    a->ip_source = g_strdup(from_agent ? "agent" : "lease");
}

void
agent_info_keep_agent_ips(AgentInfo *a, const AgentInfo *from)
{
    GHashTableIter it;
    gpointer k, v;

    if (!from || g_strcmp0(from->ip_source, "agent") != 0)
        return;
    g_hash_table_remove_all(a->ip_by_mac);
    g_hash_table_iter_init(&it, from->ip_by_mac);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(a->ip_by_mac, g_strdup(k), g_strdup(v));
    g_free(a->ip_source);
    a->ip_source = g_strdup(from->ip_source);
}

/* ---- rendering ---- */

void
agent_info_render(const AgentInfo *a, AgentState st, AgentFile f, GString *out)
{
    if (f == AF_STATUS) {
        g_string_append(out, agent_state_name(st));
        if (a && a->refreshed) {
            g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(a->refreshed / G_USEC_PER_SEC);
            g_autofree char *when = g_date_time_format(dt, "%FT%TZ");

            g_string_append_printf(out, " %s", when);
        }
        g_string_append_c(out, '\n');
        return;
    }
    if (a && (guint)f < AF_N)
        g_string_append(out, a->text[f]);
}

const char *
agent_info_ip(const AgentInfo *a, const char *mac)
{
    g_autofree char *key = NULL;
    const char *v;

    if (!a || !mac || !*mac)
        return "";
    key = g_ascii_strdown(mac, -1);
    v = g_hash_table_lookup(a->ip_by_mac, key);
    return v ? v : "";
}
