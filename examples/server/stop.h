/* Stop strings: cuts generated text at the first occurrence of any of them, also when one spans
 * several tokens. The same rules as the Python binding's StopStrings (completion.py): text that
 * could still be the start of a stop string is held back until later text decides it; once a stop
 * string is complete, everything from it on is dropped. Works on bytes: the detokenizer gives
 * whole UTF-8 characters and stop strings are valid UTF-8, so a byte match is a character match
 * and a cut never splits a character. */
#ifndef TINFER_SERVER_STOP_H
#define TINFER_SERVER_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef struct stop_matcher {
    char *const *strings; /* borrowed, non-empty strings; n_strings may be 0 */
    size_t n_strings;
    buf held;     /* text that may be the start of a stop string */
    bool stopped; /* a stop string was found: nothing more is given out */
} stop_matcher;

/* strings must outlive the matcher; empty strings are ignored as in completion.py. */
void stop_init(stop_matcher *m, char *const *strings, size_t n_strings);
/* Adds text; appends what is now certain to out. False only when memory ran out. */
bool stop_push(stop_matcher *m, const char *text, size_t len, buf *out);
/* Generation ended without a stop string: appends the held-back text to out. */
bool stop_flush(stop_matcher *m, buf *out);
void stop_free(stop_matcher *m);

#endif
