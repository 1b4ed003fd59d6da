/* One logging function for the whole program.
 *
 * One line per event on stderr: `2026-11-26T02:30:00.123Z level=info msg...`.
 * Callers put context as key=value pairs in the message (release= stage= job=).
 * Thread-safe: a line is written with a single write under a mutex.
 * Never pass a secret to it. */
#ifndef OF_LOG_H
#define OF_LOG_H

typedef enum of_log_level {
    OF_LOG_ERROR = 0,
    OF_LOG_WARN = 1,
    OF_LOG_INFO = 2,
    OF_LOG_DEBUG = 3,
} of_log_level;

void of_log(of_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lines above `level` are dropped. Default: OF_LOG_INFO. */
void of_log_set_level(of_log_level level);
of_log_level of_log_get_level(void);

/* Parses "error", "warn", "info", "debug". Returns 0 on success, -1 if unknown. */
int of_log_level_parse(const char *name, of_log_level *out);

/* Optional prefix naming the component ("worker-1"), copied. NULL clears it.
 * Per thread, so in-process daemons (demo, tests) stay distinguishable. */
void of_log_set_component(const char *name);

#define of_error(...) of_log(OF_LOG_ERROR, __VA_ARGS__)
#define of_warn(...)  of_log(OF_LOG_WARN, __VA_ARGS__)
#define of_info(...)  of_log(OF_LOG_INFO, __VA_ARGS__)
#define of_debug(...) of_log(OF_LOG_DEBUG, __VA_ARGS__)

#endif
