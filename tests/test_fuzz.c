/*
 * test_fuzz.c — replays the GGUF fuzz corpus (fuzz/corpus/gguf) and 300
 * mutants of each seed through the fuzz target's function, so the suite
 * (under ASan+UBSan) shows the seeds and corrupted variants of them are
 * rejected or accepted cleanly. The long run is `make fuzz`.
 */
#define SLM_FUZZ_NO_MAIN
#include "../fuzz/fuzz_gguf.c"

#include <stdlib.h>

#include "fuzz_replay.h"
#include "test.h"

TEST(fuzz_gguf_corpus_and_mutations) {
    const char *dir = getenv("SLM_FUZZ_CORPUS");
    if (!dir) dir = "fuzz/corpus/gguf";
    int files = fuzz_replay_dir(dir, slm_fuzz_gguf, 300, 1234, FUZZ_MUT_FLIP | FUZZ_MUT_WORD | FUZZ_MUT_TRUNCATE, NULL);
    EXPECT(files >= 3, "(%d corpus files in %s)", files, dir);
}
