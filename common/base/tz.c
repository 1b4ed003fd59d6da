/* TZif reader and local-time windows (tz.h). */
#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The biggest zone file in tzdata is about 4 KB; a file far beyond is not a zone. */
#define TZ_FILE_MAX (256 * 1024)

/* One POSIX TZ rule date ("M10.1.0/2", "J60", "59"). */
typedef struct tz_date {
    char kind; /* 'M', 'J' (1..365, no Feb 29) or 'n' (0..365) */
    int m, w, d, n;
    int32_t time; /* seconds after local midnight; may be negative or past 24h (TZif v3) */
} tz_date;

/* The footer rule: std offset, optionally dst with its offset and two change dates. */
typedef struct tz_rule {
    bool set;
    int32_t std_east, dst_east;
    bool has_dst;
    tz_date start, end;
} tz_rule;

struct of_tz {
    char name[OF_TZ_NAME_MAX + 1];
    int64_t *trans;   /* [n_trans] ascending */
    uint8_t *idx;     /* [n_trans] type of each transition */
    int32_t *offsets; /* [n_types] seconds east of UTC */
    size_t n_trans, n_types;
    tz_rule rule;
};

bool of_tz_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > OF_TZ_NAME_MAX) return false;
    const char *comp = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t cl = (size_t)(p - comp);
            if (cl == 0 || (cl == 1 && comp[0] == '.') || (cl == 2 && !strncmp(comp, "..", 2)))
                return false;
            if (*p == '\0') return true;
            comp = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '.'))
            return false;
    }
}

/* ---- POSIX TZ strings (the TZif footer) ---- */

static const char *parse_name(const char *s)
{
    if (*s == '<') {
        const char *e = strchr(s, '>');
        return e && e > s + 1 ? e + 1 : NULL;
    }
    const char *p = s;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (TZif v3 rule times). */
static const char *parse_hms(const char *s, int32_t *out)
{
    int sign = 1;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *s != ':') break;
        if (i) s++;
        if (*s < '0' || *s > '9') return NULL;
        int32_t x = 0;
        for (int k = 0; *s >= '0' && *s <= '9' && k < 3; k++)
            x = x * 10 + (*s++ - '0');
        v[i] = x;
    }
    if (v[0] > 167 || v[1] > 59 || v[2] > 59) return NULL;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return s;
}

static const char *parse_num(const char *s, int *out, int lo, int hi)
{
    if (*s < '0' || *s > '9') return NULL;
    int x = 0;
    for (int k = 0; *s >= '0' && *s <= '9' && k < 4; k++)
        x = x * 10 + (*s++ - '0');
    if (x < lo || x > hi) return NULL;
    *out = x;
    return s;
}

static const char *parse_date(const char *s, tz_date *d)
{
    memset(d, 0, sizeof *d);
    d->time = 7200; /* POSIX default: 02:00 */
    if (*s == 'M') {
        d->kind = 'M';
        s = parse_num(s + 1, &d->m, 1, 12);
        if (!s || *s != '.') return NULL;
        s = parse_num(s + 1, &d->w, 1, 5);
        if (!s || *s != '.') return NULL;
        s = parse_num(s + 1, &d->d, 0, 6);
    } else if (*s == 'J') {
        d->kind = 'J';
        s = parse_num(s + 1, &d->n, 1, 365);
    } else {
        d->kind = 'n';
        s = parse_num(s, &d->n, 0, 365);
    }
    if (s && *s == '/') s = parse_hms(s + 1, &d->time);
    return s;
}

/* Parses a footer such as "AEST-10AEDT,M10.1.0,M4.1.0/3". An empty string leaves r unset. */
static bool parse_rule(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    if (!*s) return true;
    int32_t off;
    s = parse_name(s);
    if (!s || !(s = parse_hms(s, &off))) return false;
    r->std_east = -off; /* POSIX offsets count west */
    r->set = true;
    if (!*s) return true;
    if (!(s = parse_name(s))) return false;
    r->has_dst = true;
    r->dst_east = r->std_east + 3600;
    if (*s && *s != ',') {
        if (!(s = parse_hms(s, &off))) return false;
        r->dst_east = -off;
    }
    /* A rule without dates would need the "posixrules" default; tzdata footers always have
     * them. */
    if (*s != ',' || !(s = parse_date(s + 1, &r->start))) return false;
    if (*s != ',' || !(s = parse_date(s + 1, &r->end))) return false;
    return *s == '\0';
}

/* ---- civil dates (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local midnight (as days since the epoch) of the rule date d in year y. */
static int64_t rule_day(const tz_date *d, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (d->kind == 'n') return jan1 + d->n;
    if (d->kind == 'J') return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = days_from_civil(y, d->m, 1);
    int wd_first = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday (4) */
    int64_t day = first + (d->d - wd_first + 7) % 7 + (int64_t)(d->w - 1) * 7;
    int len = mdays[d->m - 1] + (d->m == 2 && is_leap(y));
    while (day >= first + len)
        day -= 7;
    return day;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_east;
    int64_t y;
    int m, d;
    civil_from_days(floordiv(t + r->std_east, 86400), &y, &m, &d);
    /* the start is given in standard time, the end in daylight time */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_east;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_east;
    bool dst = start < end ? (t >= start && t < end) : (t < end || t >= start);
    return dst ? r->dst_east : r->std_east;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzhead {
    uint32_t isut, isstd, leap, time, type, chars;
} tzhead;

static bool head_at(const unsigned char *p, size_t left, tzhead *h)
{
    if (left < 44 || memcmp(p, "TZif", 4) != 0) return false;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    return h->type >= 1 && h->type <= 256 && h->time <= 100000 && h->leap <= 10000 &&
           h->chars <= 65536 && h->isut <= h->type && h->isstd <= h->type;
}

static size_t block_size(const tzhead *h, size_t tsize)
{
    return h->time * tsize + h->time + h->type * 6 + h->chars + h->leap * (tsize + 4) + h->isstd +
           h->isut;
}

static of_err parse_tzif(of_tz *tz, const unsigned char *buf, size_t len, char *errstr,
                         size_t errstr_size)
{
    tzhead h;
    if (!head_at(buf, len, &h))
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL, "zone %s: not a TZif file",
                         tz->name);
    const unsigned char *p = buf + 44;
    size_t left = len - 44, tsize = 4;
    bool v2 = buf[4] >= '2';
    if (v2) {
        size_t skip = block_size(&h, 4);
        if (skip > left || !head_at(p + skip, left - skip, &h))
            return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL, "zone %s: truncated TZif file",
                             tz->name);
        p += skip + 44;
        left -= skip + 44;
        tsize = 8;
    }
    if (block_size(&h, tsize) > left)
        return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL, "zone %s: truncated TZif file",
                         tz->name);
    tz->n_trans = h.time;
    tz->n_types = h.type;
    tz->trans = calloc(h.time + 1, sizeof *tz->trans);
    tz->idx = calloc(h.time + 1, sizeof *tz->idx);
    tz->offsets = calloc(h.type, sizeof *tz->offsets);
    if (!tz->trans || !tz->idx || !tz->offsets) return OF_ERR_NOMEM;
    for (size_t i = 0; i < h.time; i++, p += tsize)
        tz->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
    for (size_t i = 0; i < h.time; i++, p++) {
        if (*p >= h.type)
            return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                             "zone %s: transition type out of range", tz->name);
        tz->idx[i] = *p;
    }
    for (size_t i = 0; i < h.type; i++, p += 6)
        tz->offsets[i] = (int32_t)be32(p);
    p += h.chars + h.leap * (tsize + 4) + h.isstd + h.isut;
    left = len - (size_t)(p - buf);
    if (v2 && left >= 2 && p[0] == '\n') {
        const unsigned char *e = memchr(p + 1, '\n', left - 1);
        char footer[128];
        size_t fl = e ? (size_t)(e - p - 1) : 0;
        if (!e || fl >= sizeof footer)
            return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                             "zone %s: unreadable TZ rule footer", tz->name);
        memcpy(footer, p + 1, fl);
        footer[fl] = '\0';
        if (!parse_rule(footer, &tz->rule))
            return of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL,
                             "zone %s: TZ rule \"%s\" not understood", tz->name, footer);
    }
    return OF_OK;
}

of_err of_tz_load(const char *dir, const char *name, of_tz **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!of_tz_name_ok(name))
        return of_seterr(errstr, errstr_size, OF_ERR_INVALID, "\"%.80s\" is not a time zone name",
                         name ? name : "");
    char path[512];
    (void)snprintf(path, sizeof path, "%s/%s", dir ? dir : OF_TZ_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return of_seterr(errstr, errstr_size, errno == ENOENT ? OF_ERR_NOT_FOUND : OF_ERR_IO,
                         "time zone \"%s\": %s (%s)", name, strerror(errno), path);
    unsigned char *buf = malloc(TZ_FILE_MAX);
    of_tz *tz = calloc(1, sizeof *tz);
    of_err rc = buf && tz ? OF_OK : OF_ERR_NOMEM;
    size_t len = rc ? 0 : fread(buf, 1, TZ_FILE_MAX, f);
    (void)fclose(f);
    if (!rc) {
        (void)snprintf(tz->name, sizeof tz->name, "%s", name);
        if (len == TZ_FILE_MAX)
            rc = of_seterr(errstr, errstr_size, OF_ERR_PROTOCOL, "zone %s: file too large", name);
        else
            rc = parse_tzif(tz, buf, len, errstr, errstr_size);
    }
    free(buf);
    if (rc) {
        of_tz_free(tz);
        return rc;
    }
    *out = tz;
    return OF_OK;
}

void of_tz_free(of_tz *tz)
{
    if (!tz) return;
    free(tz->trans);
    free(tz->idx);
    free(tz->offsets);
    free(tz);
}

const char *of_tz_name(const of_tz *tz)
{
    return tz->name;
}

int32_t of_tz_offset(const of_tz *tz, int64_t t)
{
    if (tz->n_trans == 0 || t < tz->trans[0])
        return tz->n_trans == 0 && tz->rule.set ? rule_offset(&tz->rule, t) : tz->offsets[0];
    if (t >= tz->trans[tz->n_trans - 1] && tz->rule.set) return rule_offset(&tz->rule, t);
    size_t lo = 0, hi = tz->n_trans; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offsets[tz->idx[lo]];
}

/* ---- windows ---- */

static bool inside(int64_t local_s, int start_min, int end_min)
{
    int64_t min = floordiv(local_s, 60) - floordiv(local_s, 86400) * 1440;
    if (start_min == end_min) return true;
    return start_min < end_min ? (min >= start_min && min < end_min)
                               : (min >= start_min || min < end_min);
}

/* The instants whose local time is lt (local seconds): one, two when clocks go back over it,
 * or, when they skip over it, the end of the gap. */
static size_t utc_of_local(const of_tz *tz, int64_t lt, int64_t out[2])
{
    /* a day either side covers the offsets in force around lt */
    int32_t before = of_tz_offset(tz, lt - 86400), after = of_tz_offset(tz, lt + 86400);
    size_t n = 0;
    if (of_tz_offset(tz, lt - before) == before) out[n++] = lt - before;
    if (after != before && of_tz_offset(tz, lt - after) == after) out[n++] = lt - after;
    if (n == 0) {
        /* skipped over: the change itself, found between lt - after (old offset in force) and
         * lt - before (new offset in force) */
        int64_t lo = lt - (after > before ? after : before),
                hi = lt - (after > before ? before : after);
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (of_tz_offset(tz, mid) == before)
                lo = mid;
            else
                hi = mid;
        }
        out[n++] = hi;
    }
    if (n == 2 && out[1] < out[0]) {
        int64_t t = out[0];
        out[0] = out[1];
        out[1] = t;
    }
    return n;
}

int64_t of_tz_window_next(const of_tz *tz, int64_t now_ms, int start_min, int end_min)
{
    int64_t now_s = floordiv(now_ms, 1000);
    if (inside(now_s + of_tz_offset(tz, now_s), start_min, end_min)) return now_ms;
    int64_t day = floordiv(now_s + of_tz_offset(tz, now_s), 86400);
    for (int64_t d = day - 1; d <= day + 2; d++) {
        int64_t t[2];
        size_t n = utc_of_local(tz, d * 86400 + (int64_t)start_min * 60, t);
        for (size_t i = 0; i < n; i++)
            if (t[i] > now_s) return t[i] * 1000;
    }
    return now_ms + 86400000; /* unreachable with sane offsets */
}

char *of_tz_format(const of_tz *tz, int64_t ms, char *out, size_t out_size)
{
    int64_t s = floordiv(ms, 1000);
    int32_t off = of_tz_offset(tz, s);
    int64_t local = s + off, y;
    int m, d;
    civil_from_days(floordiv(local, 86400), &y, &m, &d);
    int64_t sod = local - floordiv(local, 86400) * 86400;
    int32_t a = off < 0 ? -off : off;
    (void)snprintf(out, out_size, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y, m, d,
                   (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+',
                   (int)(a / 3600), (int)(a / 60 % 60));
    return out;
}
