/*
 * test_fuzz_safetensors.c — replays the safetensors fuzz corpus
 * (fuzz/corpus/safetensors) and 400 mutants of each seed through the fuzz
 * target's function. Besides bit flips, word overwrites and truncations,
 * digits in the JSON header are rewritten, since offsets and shapes are where
 * the checks are. The long run is `make fuzz FUZZ=safetensors`.
 */
#define SLM_FUZZ_NO_MAIN
#include "../fuzz/fuzz_safetensors.c"

#include <stdlib.h>

#include "fuzz_replay.h"
#include "test.h"

TEST(fuzz_safetensors_corpus_and_mutations) {
    const char *dir = getenv("SLM_FUZZ_CORPUS_ST");
    if (!dir) dir = "fuzz/corpus/safetensors";
    int files = fuzz_replay_dir(dir, slm_fuzz_safetensors, 400, 4321,
                                FUZZ_MUT_FLIP | FUZZ_MUT_WORD | FUZZ_MUT_DIGITS | FUZZ_MUT_TRUNCATE, NULL);
    EXPECT(files >= 3, "(%d corpus files in %s)", files, dir);
}
