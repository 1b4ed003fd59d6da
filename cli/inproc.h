/* The whole fleet in one process: librdkafka's mock cluster (or a real broker) as Kafka, the
 * Octopus simulator (sim/) as Octopus, a config pointing at both, the fleet's topics, and the
 * producer and workers as threads, each with its own stop flag, running exactly the code
 * `octofleet producer` / `octofleet worker` run.
 *
 * `octofleet demo`, bench/bench_fleet.c and the in-process daemon tests (tests/unit/
 * test_worker.c, test_producer.c) all set up through here, so the four agree on how the fleet
 * is put together. Library ofinproc (cli/CMakeLists.txt); the octofleet binary links it for the
 * demo, so nothing in it may come from tests/. */
#ifndef OF_INPROC_H
#define OF_INPROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "fleet.h"
#include "kafka.h"
#include "signals.h"
#include "sim.h"
#include "worker.h"

/* One config setting, as for of_config_set (a repeated list key such as kafka.properties
 * appends). */
typedef struct of_inproc_set {
    const char *name;
    const char *value;
} of_inproc_set;

typedef struct of_inproc_opts {
    /* The simulator's world: exactly one of these (see ofsim_opts). Borrowed for the call. */
    const char *world_json;
    const char *world_path;
    /* More API keys the simulator accepts on every space (NULL-terminated), or NULL. */
    const char *const *api_keys;
    /* Settings over of_config_defaults(), applied in order after octopus.url (the simulator)
     * and kafka.bootstrap_servers (with bootstrap), so they may override both. Borrowed. */
    const of_inproc_set *sets;
    size_t n_sets;
    /* NULL: start librdkafka's mock cluster (one broker); else a real broker's address. */
    const char *bootstrap;
    /* The client.id of the Kafka clients made from fk (NULL: kafka.client_id). */
    const char *client_id;
    /* For creating the fleet's topics; <= 0 means 30 s. */
    int topics_timeout_ms;
} of_inproc_opts;

typedef struct of_inproc {
    of_kafka_mock *mock; /* owned; NULL with a real broker */
    ofsim *sim;          /* owned */
    of_config cfg;       /* owned; the daemons borrow it */
    of_fleet_kafka fk;   /* Kafka client settings for the caller's own clients; owned */
    bool fk_set;
} of_inproc;

/* Starts the mock cluster (unless opts->bootstrap) and the simulator, builds the config and
 * creates the fleet's topics (of_fleet_ensure_topics). On failure errstr names the step that
 * failed ("simulator: ...", "config topics.partitions: ...") and f holds whatever was
 * started: of_inproc_clear(f) is always the way out, after success or failure. */
OF_MUST_CHECK of_err of_inproc_start(of_inproc *f, const of_inproc_opts *opts, char *errstr,
                                     size_t errstr_size);

/* Stops what of_inproc_start started and frees f's contents (f itself is the caller's). Stop
 * and join every daemon first: they borrow f->cfg. */
void of_inproc_clear(of_inproc *f);

/* ---- daemons as threads ---------------------------------------------------------------- */

typedef enum of_inproc_role { OF_INPROC_PRODUCER, OF_INPROC_WORKER } of_inproc_role;

/* A producer or worker thread. Zero it (or let of_inproc_daemon_start fill it); the fields
 * below the line are the thread's, to read once it returned (of_inproc_daemon_done). */
typedef struct of_inproc_daemon {
    of_inproc_role role;
    char name[32];        /* "producer", "worker-1", ...: the log component and worker.name */
    const of_config *cfg; /* borrowed from the of_inproc */
    of_kafka_mock *mock;  /* borrowed; NULL with a real broker */
    const char *api_key;  /* borrowed; NULL = octopus.api_key_file / OCTOPUS_API_KEY */
    pthread_t tid;
    bool started;      /* a thread runs (or ran and was not joined yet) */
    of_stop_flag stop; /* set by of_inproc_daemon_stop_request */
    atomic_bool done;  /* set by the thread as it returns */
    /* ---- */
    of_err rc;             /* what of_producer_run / of_worker_run returned */
    char errstr[1024];     /* and why */
    of_worker_stats stats; /* a worker's, filled when it returns */
} of_inproc_daemon;

/* Starts a daemon thread on f's config (borrowed: f outlives the thread). name: NULL = the
 * role's name ("producer", "worker"). api_key: borrowed for the life of the thread. OF_ERR_STATE
 * when the thread cannot be created. */
OF_MUST_CHECK of_err of_inproc_daemon_start(of_inproc_daemon *d, const of_inproc *f,
                                            of_inproc_role role, const char *name,
                                            const char *api_key, char *errstr, size_t errstr_size);

/* Asks the daemon to drain and return (sets its stop flag); does not wait. */
void of_inproc_daemon_stop_request(of_inproc_daemon *d);

/* True once the daemon's run returned (d->rc and d->errstr are then final); stays true
 * after the join. */
bool of_inproc_daemon_done(const of_inproc_daemon *d);

/* Waits for the thread to return and joins it; timeout_ms < 0 waits for ever. True when it
 * was joined (or never started); false when it did not return in time: the thread is left
 * running, and everything it borrows must then stay allocated. */
bool of_inproc_daemon_join(of_inproc_daemon *d, int64_t timeout_ms);

/* of_inproc_daemon_stop_request, then of_inproc_daemon_join for ever. */
void of_inproc_daemon_stop(of_inproc_daemon *d);

/* The usual fleet: d[0] the producer, d[1..nworkers] workers "worker-1", ... (d has
 * 1 + nworkers entries). Stops at the first thread that cannot start; the ones started run. */
OF_MUST_CHECK of_err of_inproc_start_daemons(of_inproc_daemon *d, int nworkers, const of_inproc *f,
                                             const char *api_key, char *errstr, size_t errstr_size);

/* What an operator holds, as `octofleet submit --wait` does: *events, a consumer of the events
 * topic from the beginning in group group_id (manual commit: it commits nothing), and *cmdp, a
 * producer for commands. Both new, the caller destroys them (also after an error: each is NULL
 * or valid). */
OF_MUST_CHECK of_err of_inproc_operator(const of_inproc *f, const char *group_id,
                                        of_kafka_consumer **events, of_kafka_producer **cmdp,
                                        char *errstr, size_t errstr_size);

#endif
