/* error.c — thread-local last-error message and the invariant panic. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[1024];

slm_status slm_err(slm_status status, const char *fmt, ...) {
    char buf[sizeof g_msg]; /* an argument may be slm_last_error() itself */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(g_msg, buf, sizeof g_msg);
    return status;
}

void slm_err_clear(void) { g_msg[0] = 0; }

const char *slm_last_error(void) { return g_msg; }

const char *slm_version(void) { return "0.1.0"; }

void slm_panic(const char *file, int line, const char *what) {
    fprintf(stderr, "slm: internal error at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}
