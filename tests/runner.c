/*
 * runner.c — runs the registered test cases (see test.h).
 *   slm-tests [SUBSTRING...]   run the cases whose name or file contains any
 *                              substring (all if none); ends with "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "test.h"

#define MAX_TESTS 4096

static struct {
    const char *name;
    slm_test_fn fn;
    const char *file;
} g_tests[MAX_TESTS];
static int g_n_tests;
static bool g_failed;
static int g_fail_msgs;
static const char *g_current;

void slm_test_register(const char *name, slm_test_fn fn, const char *file) {
    if (g_n_tests >= MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    g_tests[g_n_tests].name = name;
    g_tests[g_n_tests].fn = fn;
    g_tests[g_n_tests].file = file;
    g_n_tests++;
}

void slm_test_fail(const char *file, int line, const char *fmt, ...) {
    g_failed = true;
    if (++g_fail_msgs > 20) return; /* keep a failing case's output readable */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: [%s] ", file, line, g_current);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

void slm_test_cond_fail(const char *file, int line, const char *kind, const char *cond, const char *fmt, ...) {
    g_failed = true;
    if (++g_fail_msgs > 20) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: [%s] %s %s", file, line, g_current, kind, cond);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

bool slm_test_failed(void) { return g_failed; }

const char *slm_test_data(const char *rel) {
    static char bufs[8][1024];
    static int k;
    const char *root = getenv("SLM_TEST_DATA");
    char *b = bufs[k++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", root ? root : "tests/data", rel);
    return b;
}

const char *slm_test_tmpdir(void) {
    static char buf[1024];
    const char *root = getenv("SLM_TEST_TMP");
    if (!root) root = "build/tmp";
    mkdir(root, 0755);
    snprintf(buf, sizeof buf, "%s/%s", root, g_current);
    mkdir(buf, 0755);
    return buf;
}


int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < g_n_tests; i++) {
        bool selected = argc < 2;
        for (int a = 1; a < argc && !selected; a++)
            if (strstr(g_tests[i].name, argv[a]) || strstr(g_tests[i].file, argv[a])) selected = true;
        if (!selected) continue;
        g_current = g_tests[i].name;
        g_failed = false;
        g_fail_msgs = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        g_tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %-48s %8.1f ms\n", g_failed ? "FAIL" : "ok  ", g_tests[i].name, ms);
        fflush(stdout);
        if (g_failed) failed++;
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
