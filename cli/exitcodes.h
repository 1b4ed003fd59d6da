/* Exit codes of every octofleet command, documented in README.md and --help. */
#ifndef OF_EXITCODES_H
#define OF_EXITCODES_H

enum {
    OF_EXIT_OK = 0,            /* success (for submit --wait: the release completed) */
    OF_EXIT_FAIL = 1,          /* the operation failed: release paused/aborted, request rejected */
    OF_EXIT_USAGE = 2,         /* bad command line */
    OF_EXIT_CONFIG = 3,        /* bad configuration file or value */
    OF_EXIT_SERVICE = 4,       /* Octopus or Kafka could not be reached or refused us */
    OF_EXIT_TIMEOUT = 5,       /* replay/resume/abort/submit --wait: the producer did not answer in
                                  time (is it running?); the command may still be applied later */
    OF_EXIT_INTERRUPTED = 130, /* watch / --wait stopped by SIGINT or SIGTERM (128 + 2) */
};

#endif
