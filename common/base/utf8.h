/* UTF-8 as JSON needs it. Text that reaches an event, a reply or a log line may come from
 * outside (a server's reply, jansson's error context, a URL), and jansson refuses to encode a
 * string that is not valid UTF-8: an event whose message held one stray byte could not be
 * written at all. These helpers read caller-owned, NUL-terminated strings; nothing is
 * allocated. */
#ifndef OF_UTF8_H
#define OF_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s, or 0: a stray or truncated byte, an
 * overlong form, a surrogate or beyond U+10FFFF (what json_string refuses). s is
 * NUL-terminated: a truncated sequence stops at the NUL, never a continuation byte. */
size_t of_utf8_len(const char *s);

/* True when the whole of s is valid UTF-8. */
bool of_utf8_valid(const char *s);

/* Replaces, in place, every byte of s that does not belong to a valid sequence with '?';
 * returns how many were replaced. */
size_t of_utf8_scrub(char *s);

#endif
