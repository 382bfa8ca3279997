/*
 * test_fuzz_json.c — replays the tokenizer.json fuzz corpus
 * (fuzz/corpus/tokenizer_json) and 400 mutants of each seed (bit flips, JSON
 * punctuation, deletions, truncations) through the fuzz target's function;
 * the seeds themselves must load. The long run is `make fuzz-json`.
 */
#define SLM_FUZZ_NO_MAIN
#include "../fuzz/fuzz_tokenizer_json.c"

#include <stdlib.h>

#include "fuzz_replay.h"
#include "test.h"

static void seed_loads(const char *path, const char *buf, size_t len) {
    slm_vocab *v = NULL;
    EXPECT(slm_vocab_load_hf_text(buf, len, NULL, 0, path, &v) == SLM_OK, "seed %s: %s", path, slm_last_error());
    slm_vocab_free(v);
}

TEST(fuzz_tokenizer_json_corpus_and_mutations) {
    const char *dir = getenv("SLM_FUZZ_JSON_CORPUS");
    if (!dir) dir = "fuzz/corpus/tokenizer_json";
    int files = fuzz_replay_dir(dir, slm_fuzz_tokenizer_json, 400, 4321,
                                FUZZ_MUT_FLIP | FUZZ_MUT_JSONCHAR | FUZZ_MUT_DELETE | FUZZ_MUT_TRUNCATE, seed_loads);
    EXPECT(files >= 3, "(%d corpus files in %s)", files, dir);
}
