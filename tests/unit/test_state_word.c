/* test_state_word.c - lib/state_word.c: the words of `state` and `reason`, and the parser
 * of what users write to `state`.
 *
 * The expected words are written by hand from SPEC.md ("state") and libvirt's enums; the
 * completeness checks use libvirt's _LAST sentinels, so a reason libvirt knows but domfs
 * shows as "unknown" is caught when building against a newer libvirt. Parser inputs are
 * copied into buffers that are not NUL-terminated right after them, to prove the length
 * given is honoured.
 */
#define VIR_ENUM_SENTINELS 1
#include "state_word.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>

/* ---- state_name ---- */

static void
test_state_names(void)
{
    static const struct {
        int state;
        const char *word;
    } rows[] = {
        { VIR_DOMAIN_NOSTATE, "nostate" },
        { VIR_DOMAIN_RUNNING, "running" },
        { VIR_DOMAIN_BLOCKED, "blocked" },
        { VIR_DOMAIN_PAUSED, "paused" },
        { VIR_DOMAIN_SHUTDOWN, "shutdown" },
        { VIR_DOMAIN_SHUTOFF, "shutoff" },
        { VIR_DOMAIN_CRASHED, "crashed" },
        { VIR_DOMAIN_PMSUSPENDED, "pmsuspended" },
    };

    g_assert_cmpint(G_N_ELEMENTS(rows), ==, VIR_DOMAIN_LAST);
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
        g_assert_cmpstr(state_name(rows[i].state), ==, rows[i].word);
}

static void
test_state_names_out_of_range(void)
{
    g_assert_cmpstr(state_name(-1), ==, "nostate");
    g_assert_cmpstr(state_name(VIR_DOMAIN_LAST), ==, "nostate");
    g_assert_cmpstr(state_name(1000), ==, "nostate");
    g_assert_cmpstr(state_name(G_MININT), ==, "nostate");
    g_assert_cmpstr(state_name(G_MAXINT), ==, "nostate");
}

/* every state word is a single token: no blank, no upper case, not empty */
static void
test_state_names_are_tokens(void)
{
    for (int s = 0; s < VIR_DOMAIN_LAST; s++) {
        const char *w = state_name(s);

        g_assert_nonnull(w);
        g_assert_cmpuint(strlen(w), >, 0);
        for (const char *p = w; *p; p++)
            g_assert_true(g_ascii_islower(*p));
    }
}

/* ---- state_reason_name ---- */

typedef struct {
    int state;
    int reason;
    const char *word;
} ReasonRow;

static const ReasonRow reason_rows[] = {
    { VIR_DOMAIN_NOSTATE, VIR_DOMAIN_NOSTATE_UNKNOWN, "unknown" },

    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNKNOWN, "unknown" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, "booted" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, "migrated" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_RESTORED, "restored" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_FROM_SNAPSHOT, "from-snapshot" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNPAUSED, "unpaused" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATION_CANCELED, "migration-canceled" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_SAVE_CANCELED, "save-canceled" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_WAKEUP, "wakeup" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_CRASHED, "crashed" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_POSTCOPY, "postcopy" },
    { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_POSTCOPY_FAILED, "postcopy-failed" },

    { VIR_DOMAIN_BLOCKED, VIR_DOMAIN_BLOCKED_UNKNOWN, "unknown" },

    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_UNKNOWN, "unknown" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, "user" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, "migration" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SAVE, "save" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_DUMP, "dump" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, "ioerror" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_WATCHDOG, "watchdog" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_FROM_SNAPSHOT, "from-snapshot" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SHUTTING_DOWN, "shutting-down" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SNAPSHOT, "snapshot" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_CRASHED, "crashed" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_STARTING_UP, "starting-up" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY, "postcopy" },
    { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED, "postcopy-failed" },
    /* VIR_DOMAIN_PAUSED_API_ERROR (libvirt 9.2); enum values never change */
    { VIR_DOMAIN_PAUSED, 14, "api-error" },

    { VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_UNKNOWN, "unknown" },
    { VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_USER, "user" },

    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_UNKNOWN, "unknown" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN, "shutdown" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED, "destroyed" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED, "crashed" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED, "migrated" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SAVED, "saved" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FAILED, "failed" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, "from-snapshot" },
    { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DAEMON, "daemon" },

    { VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_UNKNOWN, "unknown" },
    { VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED, "panicked" },

    { VIR_DOMAIN_PMSUSPENDED, VIR_DOMAIN_PMSUSPENDED_UNKNOWN, "unknown" },
};

static void
test_reason_names(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(reason_rows); i++) {
        const ReasonRow *r = &reason_rows[i];

        if (g_strcmp0(state_reason_name(r->state, r->reason), r->word) != 0)
            g_error("state_reason_name(%s, %d) = \"%s\", expected \"%s\"",
                    state_name(r->state), r->reason,
                    state_reason_name(r->state, r->reason), r->word);
    }
}

/* the hand-written table above covers every reason this libvirt knows */
static void
test_reason_table_complete(void)
{
    static const int last[VIR_DOMAIN_LAST] = {
        [VIR_DOMAIN_NOSTATE] = VIR_DOMAIN_NOSTATE_LAST,
        [VIR_DOMAIN_RUNNING] = VIR_DOMAIN_RUNNING_LAST,
        [VIR_DOMAIN_BLOCKED] = VIR_DOMAIN_BLOCKED_LAST,
        [VIR_DOMAIN_PAUSED] = VIR_DOMAIN_PAUSED_LAST,
        [VIR_DOMAIN_SHUTDOWN] = VIR_DOMAIN_SHUTDOWN_LAST,
        [VIR_DOMAIN_SHUTOFF] = VIR_DOMAIN_SHUTOFF_LAST,
        [VIR_DOMAIN_CRASHED] = VIR_DOMAIN_CRASHED_LAST,
        [VIR_DOMAIN_PMSUSPENDED] = VIR_DOMAIN_PMSUSPENDED_LAST,
    };
    int total = 0;
    int rows = 0;

    for (int s = 0; s < VIR_DOMAIN_LAST; s++) {
        for (int r = 1; r < last[s]; r++) {
            /* a known reason is never shown as "unknown" */
            if (strcmp(state_reason_name(s, r), "unknown") == 0)
                g_error("reason %d of state %s shows as \"unknown\"", r, state_name(s));
        }
        total += last[s];
    }
    /* and the table above has a row for each of them (plus newer ones) */
    for (size_t i = 0; i < G_N_ELEMENTS(reason_rows); i++)
        rows += reason_rows[i].reason < last[reason_rows[i].state];
    g_assert_cmpint(rows, ==, total);
}

static void
test_reason_out_of_range(void)
{
    static const int states[] = {
        VIR_DOMAIN_NOSTATE, VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED, VIR_DOMAIN_PAUSED,
        VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_CRASHED, VIR_DOMAIN_PMSUSPENDED,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(states); i++) {
        g_assert_cmpstr(state_reason_name(states[i], -1), ==, "unknown");
        g_assert_cmpstr(state_reason_name(states[i], 100), ==, "unknown");
        g_assert_cmpstr(state_reason_name(states[i], G_MAXINT), ==, "unknown");
        g_assert_cmpstr(state_reason_name(states[i], G_MININT), ==, "unknown");
    }
    g_assert_cmpstr(state_reason_name(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_LAST), ==,
                    "unknown");
    g_assert_cmpstr(state_reason_name(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_LAST), ==,
                    "unknown");
    g_assert_cmpstr(state_reason_name(VIR_DOMAIN_PAUSED, 15), ==, "unknown");
    /* an unknown state: no reason words, but never a crash */
    g_assert_cmpstr(state_reason_name(-1, 1), ==, "unknown");
    g_assert_cmpstr(state_reason_name(VIR_DOMAIN_LAST, 1), ==, "unknown");
    g_assert_cmpstr(state_reason_name(1000, 0), ==, "unknown");
}

/* reason words are single tokens: lower case letters and '-' */
static void
test_reason_names_are_tokens(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(reason_rows); i++) {
        const char *w = state_reason_name(reason_rows[i].state, reason_rows[i].reason);

        g_assert_cmpuint(strlen(w), >, 0);
        for (const char *p = w; *p; p++)
            g_assert_true(g_ascii_islower(*p) || *p == '-');
    }
}

/* ---- state_action_parse ---- */

/* parse IN[0..LEN) from a buffer whose next byte is not a NUL */
static int
parse_len(const char *in, size_t len, StateAction *out)
{
    g_autofree char *buf = g_malloc(len + 1);
    int ret;

    memcpy(buf, in, len);
    buf[len] = 'x';
    ret = state_action_parse(buf, len, out);
    return ret;
}

static int
parse(const char *in, StateAction *out)
{
    return parse_len(in, strlen(in), out);
}

static const struct {
    const char *word;
    StateAction act;
} words[] = {
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

static void
test_parse_every_word(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        StateAction act = (StateAction)-1;

        g_assert_cmpint(parse(words[i].word, &act), ==, 0);
        g_assert_cmpint(act, ==, words[i].act);
    }
}

static void
test_parse_newline_and_blanks(void)
{
    static const char *const decorations[][2] = {
        { "", "\n" },
        { " ", "" },
        { "", " " },
        { "  \t", "\t  \n" },
        { "\t", "\n" },
        { "   ", "   " },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(decorations); j++) {
            g_autofree char *in = g_strconcat(decorations[j][0], words[i].word,
                                              decorations[j][1], NULL);
            StateAction act = (StateAction)-1;

            if (parse(in, &act) != 0)
                g_error("\"%s\" refused", g_strescape(in, NULL));
            g_assert_cmpint(act, ==, words[i].act);
        }
    }
}

static void
test_parse_case(void)
{
    /* words are lower case, as the state file shows them; like sysfs, no case folding */
    static const char *const in[] = {
        "Running", "RUNNING", "Start", "SHUTOFF", "Paused", "rEsume", "REBOOT\n",
    };
    StateAction act = STATE_ACT_RESET;

    for (size_t i = 0; i < G_N_ELEMENTS(in); i++) {
        g_assert_cmpint(parse(in[i], &act), ==, -EINVAL);
        g_assert_cmpint(act, ==, STATE_ACT_RESET);   /* *out untouched on refusal */
    }
}

static void
test_parse_nul_inside(void)
{
    static const struct {
        const char *in;
        size_t len;
    } rows[] = {
        { "start\0", 6 },
        { "\0start", 6 },
        { "sta\0rt", 6 },
        { "start\n\0", 7 },
        { "start\0\n", 7 },
        { "\0", 1 },
        { "running\0junk", 12 },
    };
    StateAction act = STATE_ACT_RESET;

    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_assert_cmpint(parse_len(rows[i].in, rows[i].len, &act), ==, -EINVAL);
        g_assert_cmpint(act, ==, STATE_ACT_RESET);
    }
}

static void
test_parse_empty(void)
{
    StateAction act = STATE_ACT_RESET;

    g_assert_cmpint(parse_len("", 0, &act), ==, -EINVAL);
    g_assert_cmpint(parse("\n", &act), ==, -EINVAL);
    g_assert_cmpint(parse("   ", &act), ==, -EINVAL);
    g_assert_cmpint(parse(" \t\n ", &act), ==, -EINVAL);
    g_assert_cmpint(act, ==, STATE_ACT_RESET);
}

/* the length given is what counts: a word longer than LEN is not read past LEN */
static void
test_parse_honours_length(void)
{
    StateAction act = STATE_ACT_RESET;

    g_assert_cmpint(state_action_parse("startup", 5, &act), ==, 0);
    g_assert_cmpint(act, ==, STATE_ACT_START);
    g_assert_cmpint(state_action_parse("resumed", 6, &act), ==, 0);
    g_assert_cmpint(act, ==, STATE_ACT_RESUME);
    act = STATE_ACT_RESET;
    g_assert_cmpint(state_action_parse("reboot", 3, &act), ==, -EINVAL);
    g_assert_cmpint(act, ==, STATE_ACT_RESET);
}

static void
test_parse_prefixes_and_extensions(void)
{
    static const char *const in[] = {
        "run", "r", "s", "shut", "shutof", "sto", "stop", "pause", "suspended", "resumed",
        "reboo", "res", "rese", "resets", "startt", "runningg", "destroyed", "shutdownx",
    };
    StateAction act = STATE_ACT_RESET;

    for (size_t i = 0; i < G_N_ELEMENTS(in); i++) {
        if (parse(in[i], &act) != -EINVAL)
            g_error("\"%s\" accepted", in[i]);
    }
    g_assert_cmpint(act, ==, STATE_ACT_RESET);
}

static void
test_parse_junk(void)
{
    static const char *const in[] = {
        "start start", "start\nstop", "start\nstart", "start;reboot", "start\x01",
        "\x01start", "start\x7f", "st art", "1", "0", "-", "running\n\n\nx",
        "\xc3\xa9start", "start\xff", "running # comment", "'start'", "\"start\"",
        "start\v\vx",
    };
    StateAction act = STATE_ACT_RESET;

    for (size_t i = 0; i < G_N_ELEMENTS(in); i++) {
        if (parse(in[i], &act) != -EINVAL)
            g_error("\"%s\" accepted", g_strescape(in[i], NULL));
    }
    g_assert_cmpint(act, ==, STATE_ACT_RESET);
}

static void
test_parse_long(void)
{
    g_autofree char *blanks = g_strnfill(8192, ' ');
    g_autofree char *padded = g_strconcat(blanks, "reset", blanks, NULL);
    g_autofree char *junk = g_strnfill(100000, 'a');
    StateAction act = STATE_ACT_START;

    g_assert_cmpint(parse(padded, &act), ==, 0);
    g_assert_cmpint(act, ==, STATE_ACT_RESET);
    g_assert_cmpint(parse(junk, &act), ==, -EINVAL);
}

static void
test_action_names(void)
{
    g_assert_cmpstr(state_action_name(STATE_ACT_START), ==, "start");
    g_assert_cmpstr(state_action_name(STATE_ACT_SHUTDOWN), ==, "shutdown");
    g_assert_cmpstr(state_action_name(STATE_ACT_DESTROY), ==, "destroy");
    g_assert_cmpstr(state_action_name(STATE_ACT_SUSPEND), ==, "suspend");
    g_assert_cmpstr(state_action_name(STATE_ACT_RESUME), ==, "resume");
    g_assert_cmpstr(state_action_name(STATE_ACT_REBOOT), ==, "reboot");
    g_assert_cmpstr(state_action_name(STATE_ACT_RESET), ==, "reset");
    /* every action's name parses back to that action */
    for (int a = STATE_ACT_START; a <= STATE_ACT_RESET; a++) {
        StateAction back = (StateAction)-1;

        g_assert_cmpint(parse(state_action_name(a), &back), ==, 0);
        g_assert_cmpint(back, ==, a);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/state_word/name/every-state", test_state_names);
    g_test_add_func("/state_word/name/out-of-range", test_state_names_out_of_range);
    g_test_add_func("/state_word/name/tokens", test_state_names_are_tokens);
    g_test_add_func("/state_word/reason/every-reason", test_reason_names);
    g_test_add_func("/state_word/reason/table-complete", test_reason_table_complete);
    g_test_add_func("/state_word/reason/out-of-range", test_reason_out_of_range);
    g_test_add_func("/state_word/reason/tokens", test_reason_names_are_tokens);
    g_test_add_func("/state_word/parse/every-word", test_parse_every_word);
    g_test_add_func("/state_word/parse/newline-and-blanks", test_parse_newline_and_blanks);
    g_test_add_func("/state_word/parse/case", test_parse_case);
    g_test_add_func("/state_word/parse/nul-inside", test_parse_nul_inside);
    g_test_add_func("/state_word/parse/empty", test_parse_empty);
    g_test_add_func("/state_word/parse/honours-length", test_parse_honours_length);
    g_test_add_func("/state_word/parse/prefixes", test_parse_prefixes_and_extensions);
    g_test_add_func("/state_word/parse/junk", test_parse_junk);
    g_test_add_func("/state_word/parse/long", test_parse_long);
    g_test_add_func("/state_word/action-names", test_action_names);
    return g_test_run();
}
