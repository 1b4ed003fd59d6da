/* Loading the Octopus API key, and handling it as a secret.
 *
 * The key never comes from argv or the config file (config.c rejects an
 * `api_key` setting), never goes to a log line, an event, an error string or
 * a dump. It lives in memory returned by of_secret_load_api_key() and is
 * wiped by of_secret_free(). */
#ifndef OF_SECRET_H
#define OF_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Environment variable read when no key file is configured. */
#define OF_API_KEY_ENV "OCTOPUS_API_KEY"

/* Largest accepted key file (an Octopus key is ~36 characters). */
#define OF_SECRET_MAX_FILE 4096

/* Loads the API key into *out (a new string the caller releases with
 * of_secret_free).
 * - key_file non-NULL and non-empty: read that file, trimming surrounding
 *   whitespace and the trailing newline. A file readable by group or others
 *   gets a warning in the log (path and mode only), not a refusal.
 * - otherwise: the environment variable OCTOPUS_API_KEY.
 * Errors (messages never contain the key): OF_ERR_CONFIG "no Octopus API key:
 * set OCTOPUS_API_KEY or octopus.api_key_file" when neither is set, or the key
 * is empty or contains control characters or spaces (it goes into an HTTP
 * header), or the file is not a regular file ("... is a directory", "... is
 * not a regular file (FIFO)"; a FIFO is refused without waiting on it);
 * OF_ERR_IO when the file cannot be read; OF_ERR_TOO_LARGE when it exceeds
 * OF_SECRET_MAX_FILE. *out is NULL on error. */
OF_MUST_CHECK of_err of_secret_load_api_key(const char *key_file, char **out, char *errstr,
                                            size_t errstr_size);

/* Where one kind of key comes from, for of_secret_load; strings are static. */
typedef struct of_secret_source {
    const char *setting; /* the config key naming its file: "octopus.api_key_file" */
    const char *env;     /* the environment variable read when no file is set */
    const char *what;    /* for messages: "Octopus API key", "fleet key" */
    bool optional;       /* neither set: OF_OK with *out NULL instead of an error */
} of_secret_source;

/* of_secret_load_api_key for any key: key_file, else the environment variable src->env, with
 * the same rules and the same kinds of errors (named after src). */
OF_MUST_CHECK of_err of_secret_load(const of_secret_source *src, const char *key_file, char **out,
                                    char *errstr, size_t errstr_size);

/* Zeroes the string's memory (not optimised away) and frees it. NULL-safe. */
void of_secret_free(char *secret);

/* Writes a masked form of a secret for display: "API-****" for an Octopus
 * key (keeps the "API-" prefix only), "****" otherwise (or "" for an empty
 * or NULL secret). Never reveals any other character. Returns out. */
char *of_secret_mask(const char *secret, char *out, size_t out_size);

/* Writes url into out with any credentials in it masked, for display (log
 * lines, --dump-config, error messages): "http://user:password@host/x" ->
 * "http://user:***@host/x"; a lone token ("https://TOKEN@host") becomes
 * "***@host". The user info is everything before the last '@' of the
 * authority. A URL without '@' is copied unchanged; NULL is written as "".
 * Truncated to out_size (always NUL-terminated when out_size > 0). Returns
 * out. */
char *of_secret_mask_url(const char *url, char *out, size_t out_size);

#endif
