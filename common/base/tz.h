/* Time zones without touching the process's TZ: a small reader of the system's TZif files
 * (RFC 8536, /usr/share/zoneinfo, Debian's tzdata) and the local-time maths maintenance windows
 * need (policy.windows, docs/requests.md).
 *
 * Why not localtime_r: it follows the process-wide TZ, and switching TZ per release would race
 * with every other thread (the daemons may run as threads of one process). A loaded of_tz is
 * immutable, so any number of threads may use one at once.
 *
 * What is read: the version 2+ (64-bit) data block, and its footer's POSIX TZ rule for instants
 * after the last transition; a version 1 file falls back to its 32-bit block. Leap-second
 * records are skipped (Debian's zoneinfo has "right/" for those; we use POSIX time). */
#ifndef OF_TZ_H
#define OF_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OF_TZ_DIR      "/usr/share/zoneinfo"
#define OF_TZ_NAME_MAX 64

typedef struct of_tz of_tz;

/* True if name looks like an IANA zone name ("Australia/Sydney", "UTC", "Etc/GMT-3"): letters,
 * digits, '/', '_', '-', '+', no empty, "." or ".." component, at most OF_TZ_NAME_MAX bytes. It
 * keeps a request from naming a file outside the zoneinfo directory. */
bool of_tz_name_ok(const char *name);

/* Loads zone name from dir (NULL = OF_TZ_DIR). *out is freed with of_tz_free.
 * OF_ERR_INVALID: a bad name; OF_ERR_NOT_FOUND: no such zone; OF_ERR_PROTOCOL: not a TZif
 * file we can read; OF_ERR_NOMEM. errstr says which. */
OF_MUST_CHECK of_err of_tz_load(const char *dir, const char *name, of_tz **out, char *errstr,
                                size_t errstr_size);
void of_tz_free(of_tz *tz);

/* The zone's name as loaded (borrowed, valid until of_tz_free). */
const char *of_tz_name(const of_tz *tz);

/* Seconds east of UTC at instant t (seconds since the epoch). */
int32_t of_tz_offset(const of_tz *tz, int64_t t);

/* A daily local-time window [start_min, end_min) in minutes after local midnight (0..1439); end
 * before start wraps midnight ("22:00" to "04:00"); start == end is the whole day. Returns
 * now_ms when now_ms is inside, else the first later instant (ms) at which it opens: the local
 * time reaches start_min (the earlier of two such instants when clocks go back; the end of the
 * gap when clocks skip over start_min). */
int64_t of_tz_window_next(const of_tz *tz, int64_t now_ms, int start_min, int end_min);

/* Formats instant ms as local time with its offset, "2026-12-06T22:00:00+11:00", into out (at
 * least 26 bytes). Returns out. */
char *of_tz_format(const of_tz *tz, int64_t ms, char *out, size_t out_size);

#endif
