/* state_word.h - domain states and reasons as words, and the words users write to state. */
#pragma once

typedef enum {
    STATE_ACT_START,     /* running, start: start shut-off or resume paused */
    STATE_ACT_SHUTDOWN,  /* graceful */
    STATE_ACT_DESTROY,   /* shutoff, destroy */
    STATE_ACT_SUSPEND,   /* paused, suspend */
    STATE_ACT_RESUME,
    STATE_ACT_REBOOT,
    STATE_ACT_RESET,
} StateAction;

/* "running", "paused", ... for a virDomainState. */
const char *state_name(int state);
/* "booted", "destroyed", ... for (state, reason); "unknown" when libvirt adds one. */
const char *state_reason_name(int state, int reason);
/* Parse a write: trailing newline optional, surrounding blanks ignored. 0 or -EINVAL. */
int state_action_parse(const char *buf, unsigned long len, StateAction *out);
const char *state_action_name(StateAction act);
