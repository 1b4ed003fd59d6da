/* Loading the Octopus API key, and handling it as a secret.
 *
 * The key never comes from argv or the config file (config.c rejects an
 * `api_key` setting), never goes to a log line, an event, an error string or
 * a dump. It lives in memory returned by of_secret_load_api_key() and is
 * wiped by of_secret_free(). */
#ifndef OF_SECRET_H
#define OF_SECRET_H

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
 * header); OF_ERR_IO when the file cannot be read; OF_ERR_TOO_LARGE when it
 * exceeds OF_SECRET_MAX_FILE. *out is NULL on error. */
of_err of_secret_load_api_key(const char *key_file, char **out, char *errstr, size_t errstr_size);

/* Zeroes the string's memory (not optimised away) and frees it. NULL-safe. */
void of_secret_free(char *secret);

/* Writes a masked form of a secret for display: "API-****" for an Octopus
 * key (keeps the "API-" prefix only), "****" otherwise (or "" for an empty
 * or NULL secret). Never reveals any other character. Returns out. */
char *of_secret_mask(const char *secret, char *out, size_t out_size);

#endif
