/* fuzz_replay.c — corpus replay with seeded mutations (see fuzz_replay.h). */
#include "fuzz_replay.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "util.h"

static size_t mutate(slm_rng *rng, unsigned kinds, uint8_t *m, size_t len) {
    static const char json_bytes[] = "{}[],:\"\\0123456789-+.eEtruefalsn \n\t";
    unsigned list[8];
    int n_kinds = 0;
    for (unsigned b = 1; b <= FUZZ_MUT_TRUNCATE; b <<= 1)
        if (kinds & b) list[n_kinds++] = b;
    if (n_kinds == 0 || len == 0) return 0;
    switch (list[slm_rng_below(rng, (uint64_t)n_kinds)]) {
    case FUZZ_MUT_FLIP:
        for (int j = 0; j < 4; j++) m[slm_rng_below(rng, len)] ^= (uint8_t)(1u << slm_rng_below(rng, 8));
        return len;
    case FUZZ_MUT_WORD:
        if (len >= 8) {
            uint64_t v = slm_rng_u64(rng) >> slm_rng_below(rng, 64);
            memcpy(m + slm_rng_below(rng, len - 7), &v, 8);
        }
        return len;
    case FUZZ_MUT_DIGITS:
        for (size_t i = 0; i < len; i++)
            if (m[i] >= '0' && m[i] <= '9' && slm_rng_below(rng, 4) == 0) m[i] = (uint8_t)('0' + slm_rng_below(rng, 10));
        return len;
    case FUZZ_MUT_JSONCHAR:
        for (int j = 0; j < 2; j++) m[slm_rng_below(rng, len)] = (uint8_t)json_bytes[slm_rng_below(rng, sizeof json_bytes - 1)];
        return len;
    case FUZZ_MUT_DELETE:
        if (len > 8) {
            size_t at = slm_rng_below(rng, len - 8), cut = 1 + slm_rng_below(rng, 8);
            memmove(m + at, m + at + cut, len - at - cut);
            return len - cut;
        }
        return len;
    default:
        return slm_rng_below(rng, len);
    }
}

int fuzz_replay_dir(const char *dir, fuzz_target_fn fn, int n_mutants, uint64_t seed, unsigned mutations,
                    void (*seed_check)(const char *path, const char *buf, size_t len)) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    slm_rng rng;
    slm_rng_seed(&rng, seed);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = tu_read_file(path, &len);
        if (!buf) continue;
        files++;
        if (seed_check) seed_check(path, buf, len);
        fn((const uint8_t *)buf, len);
        uint8_t *m = malloc(len ? len : 1);
        for (int k = 0; k < n_mutants; k++) {
            memcpy(m, buf, len);
            size_t n = mutate(&rng, mutations, m, len);
            uint8_t *exact = malloc(n ? n : 1);
            memcpy(exact, m, n);
            fn(exact, n);
            free(exact);
        }
        free(m);
        free(buf);
    }
    closedir(d);
    return files;
}
