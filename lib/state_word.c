/* state_word.c - tables from libvirt's virDomainState and per-state reason enums to the
 * words the spec uses, and the parser of what users write to `state`. Reason words follow
 * `virsh domstate --reason` in spirit but are single tokens (lower case, '-' joined). */
#define G_LOG_DOMAIN "domfs-state"

#include "state_word.h"

#include <errno.h>
#include <glib.h>
#include <libvirt/libvirt.h>
#include <string.h>

static const char *const state_names[] = {
    [VIR_DOMAIN_NOSTATE] = "nostate",
    [VIR_DOMAIN_RUNNING] = "running",
    [VIR_DOMAIN_BLOCKED] = "blocked",
    [VIR_DOMAIN_PAUSED] = "paused",
    [VIR_DOMAIN_SHUTDOWN] = "shutdown",
    [VIR_DOMAIN_SHUTOFF] = "shutoff",
    [VIR_DOMAIN_CRASHED] = "crashed",
    [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
};

static const char *const running_reasons[] = {
    "unknown", "booted", "migrated", "restored", "from-snapshot", "unpaused",
    "migration-canceled", "save-canceled", "wakeup", "crashed", "postcopy",
    "postcopy-failed",
};
static const char *const blocked_reasons[] = { "unknown" };
static const char *const paused_reasons[] = {
    "unknown", "user", "migration", "save", "dump", "ioerror", "watchdog",
    "from-snapshot", "shutting-down", "snapshot", "crashed", "starting-up", "postcopy",
    "postcopy-failed", "api-error",
};
static const char *const shutdown_reasons[] = { "unknown", "user" };
static const char *const shutoff_reasons[] = {
    "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
    "from-snapshot", "daemon",
};
static const char *const crashed_reasons[] = { "unknown", "panicked" };
static const char *const pmsuspended_reasons[] = { "unknown" };
static const char *const nostate_reasons[] = { "unknown" };

const char *
state_name(int state)
{
    if (state < 0 || state >= (int)G_N_ELEMENTS(state_names) || !state_names[state])
        return "nostate";
    return state_names[state];
}

const char *
state_reason_name(int state, int reason)
{
    const char *const *tab;
    size_t n;

#define STATE_TAB(t) do { tab = t; n = G_N_ELEMENTS(t); } while (0)
    switch (state) {
    case VIR_DOMAIN_RUNNING: STATE_TAB(running_reasons); break;
    case VIR_DOMAIN_BLOCKED: STATE_TAB(blocked_reasons); break;
    case VIR_DOMAIN_PAUSED: STATE_TAB(paused_reasons); break;
    case VIR_DOMAIN_SHUTDOWN: STATE_TAB(shutdown_reasons); break;
    case VIR_DOMAIN_SHUTOFF: STATE_TAB(shutoff_reasons); break;
    case VIR_DOMAIN_CRASHED: STATE_TAB(crashed_reasons); break;
    case VIR_DOMAIN_PMSUSPENDED: STATE_TAB(pmsuspended_reasons); break;
    default: STATE_TAB(nostate_reasons); break;
    }
#undef STATE_TAB
    if (reason < 0 || (size_t)reason >= n)
        return "unknown";
    return tab[reason];
}

static const struct {
    const char *word;
    StateAction act;
} state_words[] = {
    { "running", STATE_ACT_START },
    { "start", STATE_ACT_START },
    { "shutdown", STATE_ACT_SHUTDOWN },
    { "shutoff", STATE_ACT_DESTROY },
    { "destroy", STATE_ACT_DESTROY },
    { "paused", STATE_ACT_SUSPEND },
    { "suspend", STATE_ACT_SUSPEND },
    { "resume", STATE_ACT_RESUME },
    { "reboot", STATE_ACT_REBOOT },
    { "reset", STATE_ACT_RESET },
};

int
state_action_parse(const char *buf, unsigned long len, StateAction *out)
{
    const char *b = buf;
    const char *e = buf + len;

    if (memchr(buf, '\0', len))
        return -EINVAL;
    while (b < e && g_ascii_isspace(*b))
        b++;
    while (e > b && g_ascii_isspace(e[-1]))
        e--;
    for (size_t i = 0; i < G_N_ELEMENTS(state_words); i++) {
        if (strlen(state_words[i].word) == (size_t)(e - b) &&
            memcmp(state_words[i].word, b, e - b) == 0) {
            *out = state_words[i].act;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
state_action_name(StateAction act)
{
    static const char *const names[] = {
        [STATE_ACT_START] = "start", [STATE_ACT_SHUTDOWN] = "shutdown",
        [STATE_ACT_DESTROY] = "destroy", [STATE_ACT_SUSPEND] = "suspend",
        [STATE_ACT_RESUME] = "resume", [STATE_ACT_REBOOT] = "reboot",
        [STATE_ACT_RESET] = "reset",
    };
    return names[act];
}
