/* ev_stream.h - the .domfs/events stream: a bounded ring of event lines shared by all
 * readers, each reader with its own position. A slow reader never blocks the writer: when
 * it falls behind the ring it gets one "overflow N" line for the N lines it missed. A
 * reader with nothing to read waits without a thread: its completion is completed by the
 * next push. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "completion.h"

typedef struct EvStream EvStream;
typedef struct EvReader EvReader;

EvStream *ev_stream_new(guint capacity);
/* Completes every waiting completion with -ESHUTDOWN. */
void ev_stream_free(EvStream *s);
/* Append "<unix time> TEXT\n"; TEXT has no newline. Completes the waiters, then calls the
 * notify function (poll wake-ups). */
void ev_stream_push(EvStream *s, const char *text);
void ev_stream_set_notify(EvStream *s, void (*fn)(void *opaque), void *opaque);
guint64 ev_stream_pushed(EvStream *s);

/* A reader sees the lines pushed after it was created. */
EvReader *ev_reader_new(EvStream *s);
/* A reader whose first line is "<unix time> TEXT" (not in the stream, for this reader
 * only), then the lines pushed after it was created: a reader taken over from another
 * process learns that lines may be missing there (fs_takeover.h). */
EvReader *ev_reader_new_notice(EvStream *s, const char *text);
void ev_reader_free(EvReader *r);
/* Copy whole or partial lines into BUF; 0 when nothing is pending. */
size_t ev_reader_read(EvReader *r, char *buf, size_t size);
bool ev_reader_ready(EvReader *r);
/* FALSE when something is pending now (read it). Else COMP (a reference is taken) is
 * completed with 0 by the next push, and TRUE is returned. */
bool ev_reader_wait(EvReader *r, Completion *comp);
/* Forget COMP (answered otherwise, e.g. interrupted). */
void ev_reader_cancel(EvReader *r, Completion *comp);
