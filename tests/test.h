/*
 * test.h — the tiny test framework: each tests/test_*.c defines cases with
 * TEST(name) { ... } and checks with EXPECT/ASSERT. Cases register themselves
 * at start-up; tests/runner.c runs them (optionally filtered by a substring)
 * and ends with "N passed, N failed"; the exit code is non-zero on failure.
 *
 * Test data lives in tests/data; slm_test_data(rel) gives its path.
 */
#ifndef SLM_TESTS_TEST_H
#define SLM_TESTS_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

typedef void (*slm_test_fn)(void);
void slm_test_register(const char *name, slm_test_fn fn, const char *file);
void slm_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the current case failed; returns whether the case has failed so far. */
bool slm_test_failed(void);
/* What EXPECT/ASSERT call: cond is the failed condition's text. */
void slm_test_cond_fail(const char *file, int line, const char *kind, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Path of a file under tests/data (static buffer rotated over 8 calls). */
const char *slm_test_data(const char *rel);
/* A fresh scratch directory for this case (under build/tmp). */
const char *slm_test_tmpdir(void);

#define TEST(name)                                                          \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void test_register_##name(void) {   \
        slm_test_register(#name, test_##name, __FILE__);                    \
    }                                                                       \
    static void test_##name(void)

/* EXPECT records a failure and continues; ASSERT returns from the case. */
#define EXPECT(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond)) slm_test_cond_fail(__FILE__, __LINE__, "expected", #cond, " " __VA_ARGS__); \
    } while (0)
#define ASSERT(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            slm_test_cond_fail(__FILE__, __LINE__, "assertion", #cond, " " __VA_ARGS__); \
            return;                                                                 \
        }                                                                           \
    } while (0)

#endif
