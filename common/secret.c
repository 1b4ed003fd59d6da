/* API key loading (see secret.h). The key's bytes never reach a log line or
 * an error message; only the file's path and mode do. */
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define NO_KEY_MSG "no Octopus API key: set " OF_API_KEY_ENV " or octopus.api_key_file"

/* Trims surrounding whitespace of s[0..len) in place; returns the new start
 * and sets *out_len. */
static char *trim(char *s, size_t len, size_t *out_len)
{
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    *out_len = len;
    return s;
}

/* The key goes into an HTTP header: a CR/LF or space would break (or
 * inject into) the request. */
static int key_chars_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)s[i])) return 0;
    return 1;
}

static of_err copy_key(const char *s, size_t len, const char *from, char **out, char *errstr,
                       size_t errstr_size)
{
    if (len == 0)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "%s: %s is empty", NO_KEY_MSG, from);
    if (!key_chars_ok(s, len))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "Octopus API key from %s contains spaces or control characters", from);
    char *k = malloc(len + 1);
    if (!k) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    memcpy(k, s, len);
    k[len] = '\0';
    *out = k;
    return OF_OK;
}

static of_err load_from_file(const char *path, char **out, char *errstr, size_t errstr_size)
{
    /* O_NOFOLLOW is not used: a symlink to a mounted secret (Kubernetes,
     * systemd credentials) is the normal case. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "octopus.api_key_file %s: cannot open: %s",
                         path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return of_seterr(errstr, errstr_size, OF_ERR_IO, "octopus.api_key_file %s: %s", path,
                         strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return of_seterr(errstr, errstr_size, OF_ERR_IO,
                         "octopus.api_key_file %s: not a regular file", path);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        of_warn("api key file is readable by others: path=%s mode=%04o (chmod 600 it)", path,
                (unsigned)(st.st_mode & 07777));

    /* Read at most one byte more than allowed, to tell "too large". */
    char buf[OF_SECRET_MAX_FILE + 1];
    size_t len = 0;
    of_err rc = OF_OK;
    while (len < sizeof(buf)) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = of_seterr(errstr, errstr_size, OF_ERR_IO, "octopus.api_key_file %s: read: %s",
                           path, strerror(errno));
            break;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (rc == OF_OK && len > OF_SECRET_MAX_FILE)
        rc = of_seterr(errstr, errstr_size, OF_ERR_TOO_LARGE,
                       "octopus.api_key_file %s: larger than %d bytes; it should hold only the key",
                       path, OF_SECRET_MAX_FILE);
    if (rc == OF_OK) {
        size_t klen;
        char *k = trim(buf, len, &klen);
        char from[64];
        snprintf(from, sizeof(from), "octopus.api_key_file");
        rc = copy_key(k, klen, from, out, errstr, errstr_size);
    }
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

of_err of_secret_load_api_key(const char *key_file, char **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (key_file && *key_file) return load_from_file(key_file, out, errstr, errstr_size);

    const char *env = getenv(OF_API_KEY_ENV);
    if (!env || !*env) return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, NO_KEY_MSG);
    size_t klen;
    /* trim() works in place, so trim a private copy of the environment value. */
    size_t elen = strlen(env);
    char *copy = malloc(elen + 1);
    if (!copy) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    memcpy(copy, env, elen + 1);
    char *k = trim(copy, elen, &klen);
    of_err rc = copy_key(k, klen, OF_API_KEY_ENV, out, errstr, errstr_size);
    explicit_bzero(copy, elen);
    free(copy);
    return rc;
}

void of_secret_free(char *secret)
{
    if (!secret) return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

char *of_secret_mask(const char *secret, char *out, size_t out_size)
{
    if (out_size == 0) return out;
    if (!secret || !*secret)
        snprintf(out, out_size, "%s", "");
    else if (strncmp(secret, "API-", 4) == 0)
        snprintf(out, out_size, "%s", "API-****");
    else
        snprintf(out, out_size, "%s", "****");
    return out;
}
