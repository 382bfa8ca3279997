/*
 * make_corpus_safetensors.c — writes the seed corpus for fuzz_safetensors into
 * fuzz/corpus/safetensors: small valid files with every dtype, metadata,
 * scalars, empty tensors, a gap, padding, and escapes in names. Run from the
 * repo root:
 *   cc -std=c11 fuzz/make_corpus_safetensors.c -o /tmp/mcs && /tmp/mcs
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int write_file(const char *name, const char *header, size_t data_size) {
    char path[256];
    snprintf(path, sizeof path, "fuzz/corpus/safetensors/%s", name);
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    uint64_t n = strlen(header);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(n >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, n, f);
    for (size_t i = 0; i < data_size; i++) fputc((int)(i * 37 % 251), f);
    return fclose(f) != 0;
}

int main(void) {
    int bad = 0;
    bad |= write_file("seed0.safetensors",
                      "{\"__metadata__\":{\"format\":\"pt\"},\"model.embed_tokens.weight\":{\"dtype\":\"F32\","
                      "\"shape\":[4,2],\"data_offsets\":[0,32]},\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],"
                      "\"data_offsets\":[32,40]}}",
                      40);
    bad |= write_file("seed1.safetensors",
                      "{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},\"b\":{\"dtype\":\"BF16\","
                      "\"shape\":[],\"data_offsets\":[6,8]},\"c\":{\"dtype\":\"I8\",\"shape\":[0,4],\"data_offsets\":"
                      "[8,8]},\"d\":{\"dtype\":\"U64\",\"shape\":[1,1,1],\"data_offsets\":[8,16]},\"e\":{\"dtype\":"
                      "\"BOOL\",\"shape\":[2],\"data_offsets\":[20,22]}}      ",
                      24);
    bad |= write_file("seed2.safetensors",
                      "{\"\\u00e9\\n\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},\"__metadata__\":{"
                      "\"k\":\"v\",\"total\":\"8\"},\"x\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16],"
                      "\"extra\":[1,2]},\"y\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[16,20]}}",
                      20);
    bad |= write_file("seed3.safetensors", "{}", 0);
    return bad;
}
