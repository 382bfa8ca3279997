/*
 * util.h — helpers shared by the test files: reading golden files and the
 * comparison measures the golden README defines.
 */
#ifndef SLM_TESTS_UTIL_H
#define SLM_TESTS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whole file (NUL-terminated); NULL if missing. */
char *tu_read_file(const char *path, size_t *len);
/* Whether two files hold the same bytes (false if either cannot be read). */
bool tu_same_file(const char *a, const char *b);
/* Whitespace-separated integers; returns count (-1 if missing). */
int64_t tu_read_ints(const char *path, int32_t *out, int64_t cap);
/* Raw float32 file; returns element count (-1 if missing). */
int64_t tu_read_f32(const char *path, float **out);
/* A "name v0 v1 ..." line of a text file; returns count (-1 if absent). */
int64_t tu_read_named_floats(const char *path, const char *name, float *out, int64_t cap);

/* max|a - ref| / max|ref| */
double tu_norm_err(const float *a, const float *ref, int64_t n);
/* KL(P_ref || P_test) of softmax(ref) and softmax(test) over n logits. */
double tu_kl(const float *ref, const float *test, int64_t n);
/* Argmax, lowest index on ties. */
int64_t tu_argmax(const float *x, int64_t n);

#endif
