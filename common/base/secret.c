/* Key loading (see secret.h): the Octopus API key and the fleet key. A key's
 * bytes never reach a log line or an error message; only the file's path and
 * mode do. */
#include "secret.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const of_secret_source api_key_source = {
    .setting = "octopus.api_key_file",
    .env = OF_API_KEY_ENV,
    .what = "Octopus API key",
    .optional = false,
};

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

static of_err copy_key(const of_secret_source *src, const char *s, size_t len, const char *from,
                       char **out, char *errstr, size_t errstr_size)
{
    if (len == 0)
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "no %s: set %s or %s: %s is empty",
                         src->what, src->env, src->setting, from);
    if (!key_chars_ok(s, len))
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG,
                         "%s from %s contains spaces or control characters", src->what, from);
    char *k = malloc(len + 1);
    if (!k) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    memcpy(k, s, len);
    k[len] = '\0';
    *out = k;
    return OF_OK;
}

/* True when gid is the process's effective group or one of its supplementary
 * groups. More than 256 groups (getgroups fails) counts as "not ours". */
static bool in_my_groups(gid_t gid)
{
    if (gid == getegid()) return true;
    gid_t groups[256];
    int n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid) return true;
    return false;
}

static of_err load_from_file(const of_secret_source *src, const char *path, char **out,
                             char *errstr, size_t errstr_size)
{
    /* O_NOFOLLOW is not used: a symlink to a mounted secret (Kubernetes,
     * systemd credentials) is the normal case. A FIFO, directory or device
     * is refused without waiting on it (of_file_open_regular). */
    char why[1200];
    struct stat st;
    int fd;
    of_err orc = of_file_open_regular(path, &fd, &st, why, sizeof(why));
    if (orc)
        return of_seterr(errstr, errstr_size, orc == OF_ERR_INVALID ? OF_ERR_CONFIG : orc, "%s %s",
                         src->setting, why);
    /* Readable by our own group is how a shared key reaches a service, not a
     * leak: Kubernetes' fsGroup makes a mounted Secret 0440 root:<fsGroup>, and
     * a host may keep it 0640 root:octofleet. Others, or another group, warn. */
    if ((st.st_mode & S_IRWXO) || ((st.st_mode & S_IRWXG) && !in_my_groups(st.st_gid)))
        of_warn("%s file is readable by others: path=%s mode=%04o (chmod 600 it)", src->what, path,
                (unsigned)(st.st_mode & 07777));

    /* Read at most one byte more than allowed, to tell "too large". */
    char buf[OF_SECRET_MAX_FILE + 1];
    size_t len = 0;
    of_err rc = OF_OK;
    while (len < sizeof(buf)) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = of_seterr(errstr, errstr_size, OF_ERR_IO, "%s %s: read: %s", src->setting, path,
                           strerror(errno));
            break;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (rc == OF_OK && len > OF_SECRET_MAX_FILE)
        rc = of_seterr(errstr, errstr_size, OF_ERR_TOO_LARGE,
                       "%s %s: larger than %d bytes; it should hold only the key", src->setting,
                       path, OF_SECRET_MAX_FILE);
    if (rc == OF_OK) {
        size_t klen;
        char *k = trim(buf, len, &klen);
        rc = copy_key(src, k, klen, src->setting, out, errstr, errstr_size);
    }
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

of_err of_secret_load(const of_secret_source *src, const char *key_file, char **out, char *errstr,
                      size_t errstr_size)
{
    *out = NULL;
    if (key_file && *key_file) return load_from_file(src, key_file, out, errstr, errstr_size);

    const char *env = getenv(src->env);
    if (!env || !*env) {
        if (src->optional) return OF_OK;
        return of_seterr(errstr, errstr_size, OF_ERR_CONFIG, "no %s: set %s or %s", src->what,
                         src->env, src->setting);
    }
    size_t klen;
    /* trim() works in place, so trim a private copy of the environment value. */
    size_t elen = strlen(env);
    char *copy = malloc(elen + 1);
    if (!copy) return of_seterr(errstr, errstr_size, OF_ERR_NOMEM, "out of memory");
    memcpy(copy, env, elen + 1);
    char *k = trim(copy, elen, &klen);
    of_err rc = copy_key(src, k, klen, src->env, out, errstr, errstr_size);
    explicit_bzero(copy, elen);
    free(copy);
    return rc;
}

of_err of_secret_load_api_key(const char *key_file, char **out, char *errstr, size_t errstr_size)
{
    return of_secret_load(&api_key_source, key_file, out, errstr, errstr_size);
}

void of_secret_free(char *secret)
{
    if (!secret) return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

char *of_secret_mask_url(const char *url, char *out, size_t out_size)
{
    if (out_size == 0) return out;
    if (!url) url = "";
    /* The authority runs from after "scheme://" (or the start, when there
     * is no scheme) to the first '/', '?' or '#'; user info ends at its last
     * '@' (an unencoded '@' in a password is common enough). */
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@') at = p;
    if (!at) {
        snprintf(out, out_size, "%s", url);
        return out;
    }
    /* "user:password@" keeps the user; a lone "token@" is all secret. */
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    size_t keep = (size_t)((colon && sep ? colon + 1 : auth) - url);
    if (keep > INT_MAX) keep = 0;
    snprintf(out, out_size, "%.*s***%s", (int)keep, url, at);
    return out;
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
