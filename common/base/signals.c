/* Signal handling (see signals.h). The handler only stores to lock-free
 * atomics and a sig_atomic_t: everything else (draining, committing, logging) happens in the
 * daemon's loop, outside signal context. */
#include "signals.h"

#include <errno.h>
#include <string.h>

/* A store from the handler must not take a lock (async-signal-safety). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "of_stop_flag needs a lock-free atomic int");

/* The only global state: written by the handler, read by the loops. */
static of_stop_flag signal_stop;
static volatile sig_atomic_t signal_last;

static void on_stop_signal(int sig)
{
    signal_last = sig;
    atomic_store(&signal_stop, 1);
}

of_err of_signals_install(char *errstr, size_t errstr_size)
{
    atomic_store(&signal_stop, 0);
    signal_last = 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking call (poll, read) returns EINTR so the loop
     * sees the flag now rather than at its next timeout. SA_RESETHAND: the
     * second SIGINT/SIGTERM gets the default action, so an operator can
     * still kill a daemon whose drain is stuck. */
    sa.sa_flags = (int)SA_RESETHAND; /* 0x80000000 on Linux */
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return of_seterr(errstr, errstr_size, OF_ERR_STATE, "sigaction(%s): %s",
                             sigs[i] == SIGINT ? "SIGINT" : "SIGTERM", strerror(errno));

    /* A peer closing a socket must surface as EPIPE, not kill the process. */
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) != 0)
        return of_seterr(errstr, errstr_size, OF_ERR_STATE, "sigaction(SIGPIPE): %s",
                         strerror(errno));
    return OF_OK;
}

bool of_signals_stop_requested(void)
{
    return atomic_load(&signal_stop) != 0;
}

int of_signals_last(void)
{
    return (int)signal_last;
}

of_stop_flag *of_signals_flag(void)
{
    return &signal_stop;
}

void of_stop_flag_init(of_stop_flag *flag)
{
    atomic_init(flag, 0);
}

void of_stop_request(of_stop_flag *flag)
{
    atomic_store(flag, 1);
}

bool of_stop_requested(const of_stop_flag *flag)
{
    return flag && atomic_load(flag) != 0;
}
