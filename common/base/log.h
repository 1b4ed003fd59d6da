/* One logging function for the whole program.
 *
 * One line per event on stderr: `2026-11-26T02:30:00.123Z level=info msg...`.
 * Callers put context as key=value pairs in the message (release= stage= job=).
 * Thread-safe: a line is written with a single write under a mutex.
 * Never pass a secret to it.
 *
 * One call is always exactly one line: the formatted message goes through
 * of_escape() (below), so a newline or a terminal escape sequence inside a
 * value someone else chose (a release submitter's `by`, an Octopus error
 * text) cannot forge a second line or colour the terminal. */
#ifndef OF_LOG_H
#define OF_LOG_H

#include <stdarg.h>

#include <stddef.h>

typedef enum of_log_level {
    OF_LOG_ERROR = 0,
    OF_LOG_WARN = 1,
    OF_LOG_INFO = 2,
    OF_LOG_DEBUG = 3,
} of_log_level;

void of_log(of_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A library's own log line (a printf format and its va_list, as libmicrohttpd's logger
 * gets them) as "<who>: <message>", trailing newlines dropped. */
void of_log_lib(of_log_level level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Lines above `level` are dropped. Default: OF_LOG_INFO. */
void of_log_set_level(of_log_level level);
of_log_level of_log_get_level(void);

/* Parses "error", "warn", "info", "debug". Returns 0 on success, -1 if unknown. */
int of_log_level_parse(const char *name, of_log_level *out);

/* Optional prefix naming the component ("worker-1"), copied. NULL clears it.
 * Per thread, so in-process daemons (demo, tests) stay distinguishable. */
void of_log_set_component(const char *name);

/* Copies the NUL-terminated string in into out (out_size bytes, always
 * NUL-terminated when out_size > 0), escaped so that it is printable text on
 * one line. The scheme, byte by byte:
 *   - backslash            -> \\   (so an escape in the output is never ambiguous)
 *   - newline, CR, tab     -> \n \r \t
 *   - other C0 controls (0x00-0x1f, incl. ESC), DEL (0x7f) -> \xNN (lowercase hex)
 *   - C1 controls U+0080..U+009F (UTF-8 0xc2 0x80..0x9f) -> \xc2\xNN (each byte)
 *   - bytes that are not part of valid UTF-8 (stray continuation bytes,
 *     truncated or overlong sequences, surrogates, > U+10FFFF) -> \xNN each
 *   - everything else, including valid multibyte UTF-8, is copied unchanged.
 * When out is too small the result is cut at a character or escape boundary
 * (never inside one). Returns out. */
char *of_escape(const char *in, char *out, size_t out_size);

#define of_error(...) of_log(OF_LOG_ERROR, __VA_ARGS__)
#define of_warn(...)  of_log(OF_LOG_WARN, __VA_ARGS__)
#define of_info(...)  of_log(OF_LOG_INFO, __VA_ARGS__)
#define of_debug(...) of_log(OF_LOG_DEBUG, __VA_ARGS__)

#endif
