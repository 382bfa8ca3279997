/*
 * fuzz_jinja.c — libFuzzer target for the chat-template interpreter and the
 * JSON reader (src/infer/jinja_*.c): any bytes must compile and render, or
 * fail with an error, never crash, hang or leak.
 *
 * The first byte picks the parser: even -> JSON text (then written back with
 * slm_jv_to_json), odd -> a template, rendered with a small conversation
 * under tight limits (so that loops cannot make a run slow).
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *     fuzz/fuzz_jinja.c src/infer/jinja_*.c src/base/error.c -lm -o build-fuzz/fuzz_jinja
 *   ./build-fuzz/fuzz_jinja -max_len=16384 -timeout=10 tests/data/templates/src
 *
 * tests/test_templates.c replays truncations and mutations of the real
 * templates through the same entry points.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja.h"

int slm_fuzz_jinja(const uint8_t *data, size_t size);

static const char k_vars[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi 🙂\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>r</think>ok\", \"tool_calls\": [{\"id\": \"call12345\","
    " \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1}}}]},"
    " {\"role\": \"tool\", \"content\": \"{}\", \"tool_call_id\": \"call12345\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\"}}}],"
    " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";

int slm_fuzz_jinja(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        slm_jv v;
        if (slm_jv_parse_json(text, n, &v, NULL, 0) == SLM_OK) {
            free(slm_jv_to_json(v, 2));
            slm_jv_release(v);
        }
        return 0;
    }
    slm_jinja_template *tpl;
    if (slm_jinja_compile(text, n, &tpl, NULL) != SLM_OK) return 0;
    slm_jv vars;
    if (slm_jv_parse_json(k_vars, sizeof k_vars - 1, &vars, NULL, 0) == SLM_OK) {
        slm_jinja_options o = slm_jinja_default_options();
        o.max_steps = 20000;
        o.max_output = 1 << 20;
        o.max_depth = 50;
        o.now = 1795694400;
        char *out = NULL;
        slm_jinja_render(tpl, vars, &o, &out, NULL, NULL);
        free(out);
        slm_jv_release(vars);
    }
    slm_jinja_free(tpl);
    return 0;
}

#ifndef SLM_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return slm_fuzz_jinja(data, size); }
#endif
