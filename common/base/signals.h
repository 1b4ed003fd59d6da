/* Stop requests: SIGINT/SIGTERM for the daemons, plain flags for in-process use.
 *
 * Every daemon context carries `of_stop_flag *stop` and its loop
 * checks of_stop_requested(ctx->stop) between units of work: it then stops
 * taking work, drains, commits, flushes and returns to main (STYLE.md #7).
 *   - A real daemon: ctx.stop = of_signals_flag(), after of_signals_install().
 *   - The demo and tests running producer and workers as threads: each
 *     context gets its own of_stop_flag, set with of_stop_request() from the
 *     controlling thread; no signal involved.
 * The signal flag is the only global state here; the handler does nothing
 * but set it (async-signal-safe). A flag is an atomic int: it is written by
 * one thread (a handler, the controlling thread of the demo or a test) and
 * read by another (the daemon's loop), which C11 only defines for atomics.
 * A lock-free atomic store is also async-signal-safe (C11 7.14.1.1), and
 * signals.c refuses to build where atomic int is not lock-free. */
#ifndef OF_SIGNALS_H
#define OF_SIGNALS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* A stop flag owned by whoever creates it (usually a context struct). Use it only through
 * the functions below (they use sequentially consistent loads and stores). */
typedef atomic_int of_stop_flag;

/* Installs SIGINT and SIGTERM handlers that set the process-wide flag, and
 * ignores SIGPIPE (a closed socket must be an error return, not a death).
 * No SA_RESTART: a blocking call returns EINTR so the loop notices the stop
 * promptly. SA_RESETHAND: a second Ctrl-C kills a process stuck draining.
 * Clears the flag. Call once from main, before starting threads. */
OF_MUST_CHECK of_err of_signals_install(char *errstr, size_t errstr_size);

/* True once SIGINT or SIGTERM arrived since of_signals_install(). */
bool of_signals_stop_requested(void);

/* The signal number that set the flag (SIGINT/SIGTERM), or 0. */
int of_signals_last(void);

/* The process-wide flag, for `ctx.stop = of_signals_flag()`. Never NULL;
 * valid for the life of the process. */
of_stop_flag *of_signals_flag(void);

/* Initialises a flag to "not set" (also to reuse one, e.g. between tests). */
void of_stop_flag_init(of_stop_flag *flag);

/* Sets the flag: asks the daemon holding it to stop. Safe from a signal
 * handler or another thread (a lock-free atomic store). */
void of_stop_request(of_stop_flag *flag);

/* True if flag is non-NULL and set. A NULL flag means "never stop". */
bool of_stop_requested(const of_stop_flag *flag);

#endif
