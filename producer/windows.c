/* Maintenance windows of one release (windows.h). */
#include "windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "msg.h"
#include "plan.h"
#include "tz.h"

struct of_windows {
    of_window *w; /* copies; strings owned */
    of_tz **tz;
    size_t n;
};

void of_windows_free(of_windows *ws)
{
    if (!ws) return;
    for (size_t i = 0; i < ws->n; i++) {
        free(ws->w[i].tenant_tag);
        free(ws->w[i].timezone);
        of_tz_free(ws->tz[i]);
    }
    free(ws->w);
    free(ws->tz);
    free(ws);
}

of_err of_windows_new(const of_policy *pol, of_windows **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!pol->n_windows) return OF_OK;
    of_windows *ws = calloc(1, sizeof *ws);
    if (!ws) return OF_ERR_NOMEM;
    ws->w = calloc(pol->n_windows, sizeof *ws->w);
    ws->tz = calloc(pol->n_windows, sizeof *ws->tz);
    of_err rc = ws->w && ws->tz ? OF_OK : OF_ERR_NOMEM;
    for (size_t i = 0; !rc && i < pol->n_windows; i++) {
        const of_window *src = &pol->windows[i];
        ws->n++;
        ws->w[i].start_min = src->start_min;
        ws->w[i].end_min = src->end_min;
        ws->w[i].tenant_tag = of_strdup_or_null(src->tenant_tag, &rc);
        ws->w[i].timezone = of_strdup_or_null(src->timezone, &rc);
        if (!rc) rc = of_tz_load(NULL, src->timezone, &ws->tz[i], errstr, errstr_size);
    }
    if (rc) {
        of_windows_free(ws);
        return rc;
    }
    *out = ws;
    return OF_OK;
}

of_err of_windows_from_request(const char *request_json, of_windows **out, char *errstr,
                               size_t errstr_size)
{
    *out = NULL;
    if (!request_json) return OF_OK;
    of_request *req = NULL;
    of_err rc = of_plan_parse_request(request_json, &req, errstr, errstr_size);
    if (rc == OF_OK) rc = of_windows_new(&req->policy, out, errstr, errstr_size);
    of_request_free(req);
    return rc;
}

size_t of_windows_count(const of_windows *ws)
{
    return ws ? ws->n : 0;
}

const of_window *of_windows_get(const of_windows *ws, int w)
{
    return ws && w >= 1 && (size_t)w <= ws->n ? &ws->w[w - 1] : NULL;
}

int64_t of_windows_next(const of_windows *ws, int w, int64_t now_ms)
{
    const of_window *win = of_windows_get(ws, w);
    if (!win) return now_ms;
    return of_tz_window_next(ws->tz[w - 1], now_ms, win->start_min, win->end_min);
}

char *of_windows_describe(const of_windows *ws, int w, int64_t now_ms, char *out, size_t out_size)
{
    const of_window *win = of_windows_get(ws, w);
    if (!win) {
        if (out_size) out[0] = '\0';
        return out;
    }
    int64_t at = of_windows_next(ws, w, now_ms);
    char utc[40] = "", local[40] = "";
    if (at != now_ms) {
        of_rfc3339(at - at % 1000, utc, sizeof utc);
        /* whole seconds: drop ".000" */
        char *dot = strchr(utc, '.');
        if (dot) memmove(dot, dot + 4, strlen(dot + 4) + 1);
        of_tz_format(ws->tz[w - 1], at, local, sizeof local);
    }
    (void)snprintf(out, out_size, "window %s %02d:%02d-%02d:%02d %s%s%s%s%s%s", win->tenant_tag,
                   win->start_min / 60, win->start_min % 60, win->end_min / 60, win->end_min % 60,
                   win->timezone, at == now_ms ? ", open" : ", opens ", at == now_ms ? "" : utc,
                   at == now_ms ? "" : " (", at == now_ms ? "" : local, at == now_ms ? "" : ")");
    return out;
}
