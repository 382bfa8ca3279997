/*
 * fuzz_replay.h — replays a fuzz corpus and seeded mutations of it through a
 * fuzz target's function, for the test suite (tests/test_fuzz*.c); the long
 * coverage-guided runs are `make fuzz*`. Each mutant is copied into a buffer
 * of exactly its size, so ASan sees any read past the end.
 */
#ifndef SLM_TESTS_FUZZ_REPLAY_H
#define SLM_TESTS_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

typedef int (*fuzz_target_fn)(const uint8_t *data, size_t size);

enum {
    FUZZ_MUT_FLIP = 1,     /* flip a few bits */
    FUZZ_MUT_WORD = 2,     /* overwrite 8 bytes with a random (often huge) number */
    FUZZ_MUT_DIGITS = 4,   /* rewrite some ASCII digits (offsets and shapes in JSON) */
    FUZZ_MUT_JSONCHAR = 8, /* replace bytes with JSON punctuation */
    FUZZ_MUT_DELETE = 16,  /* delete a short run */
    FUZZ_MUT_TRUNCATE = 32 /* cut the input short */
};

/* Runs fn on every file of dir and on n_mutants mutants of each (kinds drawn
 * uniformly from the mutations mask, seeded by seed). seed_check, if not
 * NULL, is called once per corpus file first (e.g. to assert that the seeds
 * themselves are valid). Returns the number of corpus files, -1 if dir
 * cannot be read. */
int fuzz_replay_dir(const char *dir, fuzz_target_fn fn, int n_mutants, uint64_t seed, unsigned mutations,
                    void (*seed_check)(const char *path, const char *buf, size_t len));

#endif
