/*
 * error.h — the library's error reporting: a thread-local last-error message
 * set beside every non-OK status, and an always-on invariant check.
 *
 * slm_err() formats one line; callers return the status it returns:
 *     return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': offset past end", path, name);
 * SLM_CHECK() is for broken internal invariants only (never for input):
 * it prints file:line and aborts, and is not removed by NDEBUG.
 */
#ifndef SLM_BASE_ERROR_H
#define SLM_BASE_ERROR_H

#include "slm.h"

#if defined(__GNUC__)
#define SLM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SLM_PRINTF(a, b)
#endif

/* Records the message and returns status unchanged. */
slm_status slm_err(slm_status status, const char *fmt, ...) SLM_PRINTF(2, 3);
void slm_err_clear(void);

void slm_panic(const char *file, int line, const char *what);

#define SLM_CHECK(cond)                                    \
    do {                                                   \
        if (!(cond)) slm_panic(__FILE__, __LINE__, #cond); \
    } while (0)

#endif
