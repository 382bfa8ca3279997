/*
 * test_quant.c — tensor types: the traits table, hand-built blocks with known
 * values, quantize -> dequantize error bounds on random data, and the oracle:
 * the tensors that llama.cpp's llama-quantize wrote for a small model
 * (tests/data/models/llama/model.<T>.gguf, from the F32 model.gguf) must be
 * reproduced byte for byte by slm's quantizers, and decode close to the
 * F32 original.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fp16.h"
#include "formats/gguf.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "test.h"

/* ======================================================================== */
/* Helpers                                                                   */
/* ======================================================================== */

/* xorshift64* and Box-Muller: reproducible Gaussian test data. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double rng_uniform(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float rng_normal(void) {
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static uint16_t h(float f) { return slm_fp32_to_fp16(f); }

/* Decodes n values of type t; the caller frees. */
static float *dequant(int type, const void *data, int64_t n) {
    float *out = malloc((size_t)n * sizeof(float));
    slm_type_traits_get(type)->to_float(data, out, n);
    return out;
}

#define EXPECT_VALUES(type, block, expected, n)                                             \
    do {                                                                                    \
        float got_[QK_K];                                                                   \
        slm_type_traits_get(type)->to_float(&(block), got_, (n));                           \
        for (int k_ = 0; k_ < (n); k_++)                                                    \
            EXPECT(got_[k_] == (expected)[k_], "%s value %d: got %g, want %g",              \
                   slm_type_name(type), k_, got_[k_], (expected)[k_]);                      \
    } while (0)

/* ======================================================================== */
/* The traits table                                                          */
/* ======================================================================== */

TEST(quant_traits_table) {
    static const struct {
        int type;
        const char *name;
        int blck;
        size_t bytes;
    } want[] = {
        {SLM_TYPE_F32, "F32", 1, 4},      {SLM_TYPE_F16, "F16", 1, 2},
        {SLM_TYPE_BF16, "BF16", 1, 2},    {SLM_TYPE_Q4_0, "Q4_0", 32, 18},
        {SLM_TYPE_Q4_1, "Q4_1", 32, 20},  {SLM_TYPE_Q5_0, "Q5_0", 32, 22},
        {SLM_TYPE_Q5_1, "Q5_1", 32, 24},  {SLM_TYPE_Q8_0, "Q8_0", 32, 34},
        {SLM_TYPE_Q8_1, "Q8_1", 32, 36},  {SLM_TYPE_Q2_K, "Q2_K", 256, 84},
        {SLM_TYPE_Q3_K, "Q3_K", 256, 110}, {SLM_TYPE_Q4_K, "Q4_K", 256, 144},
        {SLM_TYPE_Q5_K, "Q5_K", 256, 176}, {SLM_TYPE_Q6_K, "Q6_K", 256, 210},
        {SLM_TYPE_Q8_K, "Q8_K", 256, 292},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const slm_type_traits *t = slm_type_traits_get(want[i].type);
        ASSERT(t != NULL, "type %d", want[i].type);
        EXPECT(strcmp(t->name, want[i].name) == 0, "%s", t->name);
        EXPECT(strcmp(slm_type_name(want[i].type), want[i].name) == 0);
        EXPECT(t->blck_size == want[i].blck, "%s", want[i].name);
        EXPECT(t->type_size == want[i].bytes, "%s", want[i].name);
        EXPECT(t->is_quantized == (want[i].blck > 1), "%s", want[i].name);
        EXPECT(t->to_float != NULL && t->from_float != NULL, "%s", want[i].name);
        EXPECT(slm_type_from_name(want[i].name) == want[i].type, "%s", want[i].name);
        EXPECT(slm_row_size(want[i].type, 4096) == 4096 / want[i].blck * want[i].bytes);
    }
    EXPECT(slm_type_from_name("q4_k") == SLM_TYPE_Q4_K);
    EXPECT(slm_type_from_name("bf16") == SLM_TYPE_BF16);
    EXPECT(slm_type_from_name("Q4_2") == -1);
    EXPECT(slm_type_from_name("") == -1);
    EXPECT(slm_type_from_name(NULL) == -1);
    /* Ids ggml has but slm does not read (Q4_2, IQ2_XXS, I8, ...), and junk. */
    int unknown[] = {-1, 4, 5, 16, 24, 29, 31, SLM_TYPE_COUNT, 1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        EXPECT(slm_type_traits_get(unknown[i]) == NULL, "id %d", unknown[i]);
        EXPECT(slm_type_name(unknown[i]) == NULL, "id %d", unknown[i]);
        EXPECT(slm_row_size(unknown[i], 256) == 0, "id %d", unknown[i]);
    }
    EXPECT(slm_row_size(SLM_TYPE_Q4_0, 33) == 0);
    EXPECT(slm_row_size(SLM_TYPE_Q4_K, 128) == 0);
    EXPECT(slm_row_size(SLM_TYPE_Q4_K, -256) == 0);
    EXPECT(slm_row_size(SLM_TYPE_F32, 0) == 0);
    EXPECT(slm_row_size(SLM_TYPE_F32, INT64_MAX) == 0, "overflow must give 0");
}

/* ======================================================================== */
/* Hand-built blocks                                                         */
/* ======================================================================== */

TEST(quant_block_q4_0_q4_1_known_values) {
    block_q4_0 b = {.d = h(0.5f)};
    float want[32];
    for (int j = 0; j < 16; j++) {
        int lo = j, hi = 15 - j; /* value j, value j+16 */
        b.qs[j] = (uint8_t)(lo | hi << 4);
        want[j] = (lo - 8) * 0.5f;
        want[j + 16] = (hi - 8) * 0.5f;
    }
    EXPECT_VALUES(SLM_TYPE_Q4_0, b, want, 32);
    EXPECT(want[0] == -4.0f && want[16] == 3.5f);

    block_q4_1 c = {.d = h(0.25f), .m = h(-1.0f)};
    for (int j = 0; j < 16; j++) {
        c.qs[j] = (uint8_t)(j | (j ^ 5) << 4);
        want[j] = j * 0.25f - 1.0f;
        want[j + 16] = (j ^ 5) * 0.25f - 1.0f;
    }
    EXPECT_VALUES(SLM_TYPE_Q4_1, c, want, 32);
}

TEST(quant_block_q5_known_values) {
    /* Value j has low nibble j & 15 and bit 4 from bit j of qh (LE u32). */
    block_q5_0 b = {.d = h(2.0f), .qh = {0x01, 0x80, 0x00, 0xFF}};
    float want[32];
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    uint32_t qh = 0xFF008001u;
    for (int j = 0; j < 16; j++) {
        want[j] = ((j | (int)(qh >> j & 1) << 4) - 16) * 2.0f;
        want[j + 16] = (((15 - j) | (int)(qh >> (j + 16) & 1) << 4) - 16) * 2.0f;
    }
    EXPECT(want[0] == (16 - 16) * 2.0f);      /* q = 0 | 16 */
    EXPECT(want[15] == (31 - 16) * 2.0f);     /* q = 15 | 16 (bit 15) */
    EXPECT(want[16] == (15 - 16) * 2.0f);     /* q = 15, bit 16 clear */
    EXPECT(want[31] == (16 - 16) * 2.0f);     /* q = 0 | 16 (bit 31) */
    EXPECT_VALUES(SLM_TYPE_Q5_0, b, want, 32);

    block_q5_1 c = {.d = h(0.5f), .m = h(3.0f), .qh = {0xAA, 0x55, 0x0F, 0xF0}};
    memcpy(c.qs, b.qs, 16);
    qh = 0xF00F55AAu;
    for (int j = 0; j < 16; j++) {
        want[j] = (j | (int)(qh >> j & 1) << 4) * 0.5f + 3.0f;
        want[j + 16] = ((15 - j) | (int)(qh >> (j + 16) & 1) << 4) * 0.5f + 3.0f;
    }
    EXPECT_VALUES(SLM_TYPE_Q5_1, c, want, 32);
}

TEST(quant_block_q8_known_values) {
    block_q8_0 b = {.d = h(0.125f)};
    block_q8_1 c = {.d = h(0.125f), .s = h(99.0f)};
    float want[32];
    for (int j = 0; j < 32; j++) {
        b.qs[j] = c.qs[j] = (int8_t)(j * 8 - 128);
        want[j] = (j * 8 - 128) * 0.125f;
    }
    EXPECT_VALUES(SLM_TYPE_Q8_0, b, want, 32);
    EXPECT_VALUES(SLM_TYPE_Q8_1, c, want, 32);

    block_q8_K k = {.d = 0.01f};
    float wantk[QK_K];
    for (int j = 0; j < QK_K; j++) {
        k.qs[j] = (int8_t)(127 - j);
        wantk[j] = 0.01f * (127 - j);
    }
    EXPECT_VALUES(SLM_TYPE_Q8_K, k, wantk, QK_K);
}

TEST(quant_block_q2_K_known_values) {
    /* Sub-block j: scale j (low nibble), min 15 - j (high nibble); every q
     * in byte b of qs is (b % 4) at all 4 positions. */
    block_q2_K b = {.d = h(0.5f), .dmin = h(0.25f)};
    for (int j = 0; j < 16; j++) b.scales[j] = (uint8_t)(j | (15 - j) << 4);
    for (int i = 0; i < 64; i++) {
        int q = i % 4;
        b.qs[i] = (uint8_t)(q | q << 2 | q << 4 | q << 6);
    }
    float want[QK_K];
    for (int k = 0; k < QK_K; k++) {
        int j = k / 16;            /* sub-block */
        int byte = (k / 128) * 32 + k % 32;
        int q = byte % 4;
        want[k] = 0.5f * j * q - 0.25f * (15 - j);
    }
    EXPECT(want[0] == -3.75f);           /* j 0: 0 - 0.25*15 */
    EXPECT(want[33] == 0.5f * 2 * 1 - 0.25f * 13); /* k 33: sub-block 2, byte 1 */
    EXPECT_VALUES(SLM_TYPE_Q2_K, b, want, QK_K);
}

TEST(quant_block_q3_K_known_values) {
    /* Scale j stored as (j - 8) + 32: low nibble in scales[j % 8] (high
     * nibble for j >= 8), high 2 bits in scales[8 + j % 4] at bit 2*(j/4). */
    block_q3_K b = {.d = h(0.5f)};
    for (int j = 0; j < 16; j++) {
        int s = (j - 8) + 32;
        if (j < 8) b.scales[j] |= (uint8_t)(s & 0xF);
        else b.scales[j - 8] |= (uint8_t)((s & 0xF) << 4);
        b.scales[8 + j % 4] |= (uint8_t)((s >> 4) << (2 * (j / 4)));
    }
    /* Low 2 bits: value k's q2 = (k / 7) % 4; high bit set for odd k. */
    uint8_t q2[QK_K];
    for (int k = 0; k < QK_K; k++) q2[k] = (uint8_t)((k / 7) % 4);
    for (int k = 0; k < QK_K; k++) {
        b.qs[(k / 128) * 32 + k % 32] |= (uint8_t)(q2[k] << (2 * ((k % 128) / 32)));
        if (k & 1) b.hmask[k % 32] |= (uint8_t)(1 << (k / 32));
    }
    float want[QK_K];
    for (int k = 0; k < QK_K; k++) {
        int j = k / 16;
        int q = q2[k] + ((k & 1) ? 4 : 0) - 4; /* -4..3 */
        want[k] = 0.5f * (j - 8) * q;
    }
    EXPECT(want[0] == 0.5f * -8 * -4);
    EXPECT_VALUES(SLM_TYPE_Q3_K, b, want, QK_K);
}

/* Packs 6-bit scales sc[8] and mins m[8] the Q4_K / Q5_K way. */
static void pack_k4_scales(const int sc[8], const int m[8], uint8_t out[12]) {
    memset(out, 0, 12);
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
    }
}

TEST(quant_block_q4_K_q5_K_known_values) {
    int sc[8] = {1, 63, 17, 32, 5, 48, 31, 60};
    int m[8] = {0, 2, 40, 63, 33, 16, 7, 50};
    block_q4_K b = {.d = h(0.25f), .dmin = h(0.125f)};
    block_q5_K c = {.d = h(0.25f), .dmin = h(0.125f)};
    pack_k4_scales(sc, m, b.scales);
    pack_k4_scales(sc, m, c.scales);
    float want4[QK_K], want5[QK_K];
    for (int k = 0; k < QK_K; k++) {
        int q = (k * 7 + 3) % 32;
        int chunk = k / 64, l = k % 32, high = (k % 64) >= 32;
        b.qs[32 * chunk + l] |= (uint8_t)((q & 0xF) << (4 * high));
        c.qs[32 * chunk + l] |= (uint8_t)((q & 0xF) << (4 * high));
        c.qh[l] |= (uint8_t)((q >> 4) << (2 * chunk + high));
        int j = k / 32;
        want4[k] = 0.25f * sc[j] * (q & 0xF) - 0.125f * m[j];
        want5[k] = 0.25f * sc[j] * q - 0.125f * m[j];
    }
    EXPECT_VALUES(SLM_TYPE_Q4_K, b, want4, QK_K);
    EXPECT_VALUES(SLM_TYPE_Q5_K, c, want5, QK_K);
}

TEST(quant_block_q6_K_known_values) {
    block_q6_K b = {.d = h(0.5f)};
    for (int j = 0; j < 16; j++) b.scales[j] = (int8_t)(j * 16 - 128);
    float want[QK_K];
    for (int k = 0; k < QK_K; k++) {
        int q = (k * 5 + 1) % 64;
        int half = k / 128, r = k % 128, l = r % 32, group = r / 32; /* 0..3 */
        uint8_t *ql = b.ql + 64 * half, *qh = b.qh + 32 * half;
        /* groups 0,1 use low nibbles of ql[l], ql[l+32]; 2,3 the high ones */
        ql[l + 32 * (group & 1)] |= (uint8_t)((q & 0xF) << (4 * (group >> 1)));
        qh[l] |= (uint8_t)((q >> 4) << (2 * group));
        want[k] = 0.5f * (float)b.scales[k / 16] * (q - 32);
    }
    EXPECT_VALUES(SLM_TYPE_Q6_K, b, want, QK_K);
}

TEST(quant_block_f16_bf16_known_values) {
    uint16_t f16[6] = {0x3C00, 0xC000, 0x0001, 0x7BFF, 0x0000, 0x8000};
    float want16[6] = {1.0f, -2.0f, 5.9604644775390625e-8f, 65504.0f, 0.0f, -0.0f};
    EXPECT_VALUES(SLM_TYPE_F16, f16, want16, 6);
    uint16_t bf16[4] = {0x3F80, 0xC040, 0x4049, 0x0001};
    float wantb[4] = {1.0f, -3.0f, 3.140625f, 9.18354961579912e-41f};
    EXPECT_VALUES(SLM_TYPE_BF16, bf16, wantb, 4);
}

TEST(quant_block_all_zero_input) {
    /* Zero input must give zero output (no NaN from 0/0) in every type. */
    float zero[QK_K] = {0}, out[QK_K];
    uint8_t buf[sizeof(block_q8_K)];
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        const slm_type_traits *tr = slm_type_traits_get(t);
        if (!tr || !tr->from_float) continue;
        int64_t n = tr->blck_size > 1 ? tr->blck_size : 64;
        memset(buf, 0xAB, sizeof buf);
        size_t bytes = tr->from_float(zero, buf, n);
        EXPECT(bytes == slm_row_size(t, n), "%s", tr->name);
        tr->to_float(buf, out, n);
        for (int64_t k = 0; k < n; k++) EXPECT(out[k] == 0.0f, "%s value %d", tr->name, (int)k);
    }
}

/* ======================================================================== */
/* Round trips on random data                                                */
/* ======================================================================== */

/* rms(dequant(quant(x)) - x) / rms(x) must stay below a bound for Gaussian
 * data and for data with an offset, a spread of scales and rare outliers.
 * The data are fixed (seeded); the bounds are the measured errors + ~25%, so
 * a quantizer that loses precision fails here even if it stays "plausible". */
static void check_round_trip(int type, double max_rel_gauss, double max_rel_skew) {
    const slm_type_traits *t = slm_type_traits_get(type);
    const int64_t n = 16 * QK_K;
    float *x = malloc(n * sizeof(float));
    float *y = malloc(n * sizeof(float));
    void *q = malloc(slm_row_size(type, n));
    g_rng = 0x9E3779B97F4A7C15ull + (uint64_t)type; /* independent of test order */
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n; i++) {
            x[i] = rng_normal();
            if (pass == 1) { /* offset (tests mins), scale spread, rare outliers */
                x[i] = 0.3f + x[i] * (float)(0.1 + (i / 32) % 7);
                if (i % 97 == 0) x[i] *= 8.0f;
            }
        }
        size_t bytes = t->from_float(x, q, n);
        EXPECT(bytes == slm_row_size(type, n), "%s", t->name);
        t->to_float(q, y, n);
        double se = 0, sx = 0;
        for (int64_t i = 0; i < n; i++) {
            EXPECT(isfinite(y[i]), "%s value %d", t->name, (int)i);
            se += (double)(y[i] - x[i]) * (y[i] - x[i]);
            sx += (double)x[i] * x[i];
        }
        double rel = sqrt(se / sx);
        double bound = pass == 0 ? max_rel_gauss : max_rel_skew;
        if (getenv("SLM_TEST_VERBOSE"))
            printf("  %-5s pass %d: relative rms error %.5f (bound %.5f)\n", t->name, pass, rel,
                   bound);
        EXPECT(rel <= bound, "%s pass %d: relative rms error %.5f > %.5f", t->name, pass, rel,
               bound);
    }
    free(x);
    free(y);
    free(q);
}

TEST(quant_round_trip_error_bounds) {
    /* type, Gaussian bound, skewed bound */
    check_round_trip(SLM_TYPE_F16, 3e-4, 3e-4);
    check_round_trip(SLM_TYPE_BF16, 2.2e-3, 2.2e-3);
    check_round_trip(SLM_TYPE_Q8_0, 0.007, 0.011);
    check_round_trip(SLM_TYPE_Q8_1, 0.007, 0.0095);
    check_round_trip(SLM_TYPE_Q8_K, 0.0085, 0.028);
    check_round_trip(SLM_TYPE_Q6_K, 0.023, 0.036);
    check_round_trip(SLM_TYPE_Q5_0, 0.055, 0.093);
    check_round_trip(SLM_TYPE_Q5_1, 0.047, 0.059);
    check_round_trip(SLM_TYPE_Q5_K, 0.045, 0.057);
    check_round_trip(SLM_TYPE_Q4_0, 0.105, 0.17);
    check_round_trip(SLM_TYPE_Q4_1, 0.096, 0.118);
    check_round_trip(SLM_TYPE_Q4_K, 0.089, 0.108);
    check_round_trip(SLM_TYPE_Q3_K, 0.186, 0.255);
    check_round_trip(SLM_TYPE_Q2_K, 0.375, 0.435);
}

TEST(quant_round_trip_exact_for_representable_values) {
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t buf[N * 4];
    /* F32: any bits, including NaN payloads, infinities and subnormals. */
    for (int i = 0; i < N; i++) x[i] = slm_fp32_from_bits((uint32_t)(i * 2654435761u));
    slm_type_traits_get(SLM_TYPE_F32)->from_float(x, buf, N);
    slm_type_traits_get(SLM_TYPE_F32)->to_float(buf, y, N);
    EXPECT(memcmp(x, y, sizeof x) == 0);
    /* F16: every finite half value round-trips exactly. */
    int n = 0;
    for (uint32_t b = 0; b < 65536 && n < N; b += 7) {
        if ((b & 0x7C00) == 0x7C00) continue;
        x[n++] = slm_fp16_to_fp32((uint16_t)b);
    }
    slm_type_traits_get(SLM_TYPE_F16)->from_float(x, buf, n);
    slm_type_traits_get(SLM_TYPE_F16)->to_float(buf, y, n);
    for (int i = 0; i < n; i++) EXPECT(x[i] == y[i] && signbit(x[i]) == signbit(y[i]), "%d", i);
    /* BF16: floats with 16 low zero bits round-trip exactly. */
    for (int i = 0; i < N; i++) {
        x[i] = slm_fp32_from_bits((uint32_t)(i * 40503u) << 16);
        if (!isfinite(x[i])) x[i] = 1.0f;
    }
    slm_type_traits_get(SLM_TYPE_BF16)->from_float(x, buf, N);
    slm_type_traits_get(SLM_TYPE_BF16)->to_float(buf, y, N);
    EXPECT(memcmp(x, y, sizeof x) == 0);
    /* Rounding: halfway cases go to even. */
    float halfway[2] = {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048}; /* between halves */
    uint16_t hw[2];
    slm_type_traits_get(SLM_TYPE_F16)->from_float(halfway, hw, 2);
    EXPECT(hw[0] == 0x3C00 && hw[1] == 0x3C02, "%04x %04x", hw[0], hw[1]);
}

TEST(quant_q8_k_bsums) {
    float x[QK_K];
    for (int i = 0; i < QK_K; i++) x[i] = rng_normal();
    block_q8_K b;
    slm_type_traits_get(SLM_TYPE_Q8_K)->from_float(x, &b, QK_K);
    for (int j = 0; j < QK_K / 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += b.qs[16 * j + l];
        EXPECT(b.bsums[j] == s, "bsum %d", j);
    }
    int extreme = 0;
    for (int i = 0; i < QK_K; i++) extreme |= abs(b.qs[i]) == 127;
    EXPECT(extreme, "the largest value must map to +-127");
}

/* ======================================================================== */
/* The llama.cpp oracle                                                      */
/* ======================================================================== */

/* Quantizes every 2-D tensor of model.gguf to type T and compares the bytes
 * with llama-quantize's model.T.gguf, block by block. */
static void check_golden_bytes(const char *tname) {
    char rel[128];
    snprintf(rel, sizeof rel, "models/llama/model.%s.gguf", tname);
    gguf_file *ref = NULL, *q = NULL;
    ASSERT(gguf_open(slm_test_data("models/llama/model.gguf"), &ref) == SLM_OK, "%s",
           slm_last_error());
    if (gguf_open(slm_test_data(rel), &q) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "%s", slm_last_error());
        gguf_close(ref);
        return;
    }
    const int type = slm_type_from_name(tname);
    const slm_type_traits *t = slm_type_traits_get(type);
    int n_checked = 0;
    for (uint64_t i = 0; i < ref->n_tensors; i++) {
        const gguf_tensor *src = &ref->tensors[i];
        if (src->n_dims != 2) continue;
        const gguf_tensor *dst = gguf_find_tensor(q, src->name);
        ASSERT(dst != NULL, "%s: no tensor %s", rel, src->name);
        ASSERT(src->type == SLM_TYPE_F32, "%s", src->name);
        ASSERT(dst->type == (uint32_t)type, "%s: %s has type %u", rel, src->name, dst->type);
        const int64_t ne0 = src->ne[0], nrows = src->ne[1];
        const size_t row_bytes = slm_row_size(type, ne0);
        ASSERT(dst->nbytes == row_bytes * (size_t)nrows, "%s", src->name);
        uint8_t *mine = malloc(dst->nbytes);
        /* Row by row, as llama-quantize does; the F32 data in the mapping is
         * 32-byte aligned, so it can be read as floats in place. */
        for (int64_t r = 0; r < nrows; r++)
            t->from_float((const float *)src->data + r * ne0, mine + r * row_bytes, ne0);
        size_t n_blocks = dst->nbytes / t->type_size, n_bad = 0, first_bad = 0;
        for (size_t b = 0; b < n_blocks; b++) {
            if (memcmp(mine + b * t->type_size, dst->data + b * t->type_size, t->type_size)) {
                if (!n_bad) first_bad = b;
                n_bad++;
            }
        }
        EXPECT(n_bad == 0, "%s %s: %zu of %zu blocks differ from llama.cpp (first: block %zu)",
               tname, src->name, n_bad, n_blocks, first_bad);
        free(mine);
        n_checked++;
    }
    EXPECT(n_checked == 15, "%s: checked %d 2-D tensors", tname, n_checked);
    gguf_close(q);
    gguf_close(ref);
}

TEST(quant_golden_bytes_F16) { check_golden_bytes("F16"); }
TEST(quant_golden_bytes_BF16) { check_golden_bytes("BF16"); }
TEST(quant_golden_bytes_Q8_0) { check_golden_bytes("Q8_0"); }
TEST(quant_golden_bytes_Q6_K) { check_golden_bytes("Q6_K"); }
TEST(quant_golden_bytes_Q5_K) { check_golden_bytes("Q5_K"); }
TEST(quant_golden_bytes_Q5_1) { check_golden_bytes("Q5_1"); }
TEST(quant_golden_bytes_Q5_0) { check_golden_bytes("Q5_0"); }
TEST(quant_golden_bytes_Q4_K) { check_golden_bytes("Q4_K"); }
TEST(quant_golden_bytes_Q4_1) { check_golden_bytes("Q4_1"); }
TEST(quant_golden_bytes_Q4_0) { check_golden_bytes("Q4_0"); }
TEST(quant_golden_bytes_Q3_K) { check_golden_bytes("Q3_K"); }
TEST(quant_golden_bytes_Q2_K) { check_golden_bytes("Q2_K"); }

/* Every tensor of every model.T.gguf decodes to finite values whose error
 * against the F32 original, max|a - ref| / max|ref| per tensor, is below a
 * per-type bound (the worst of the 15 tensors + ~25%; SLM_TEST_VERBOSE=1
 * prints it); the 1-D norms must be F32 and identical. */
TEST(quant_golden_dequant_close_to_f32) {
    static const struct {
        const char *type;
        double bound;
    } bounds[] = {
        {"F16", 5.6e-4}, {"BF16", 4.5e-3}, {"Q8_0", 0.005}, {"Q6_K", 0.020},
        {"Q5_K", 0.042}, {"Q5_1", 0.036},  {"Q5_0", 0.060}, {"Q4_K", 0.076},
        {"Q4_1", 0.070}, {"Q4_0", 0.122},  {"Q3_K", 0.175}, {"Q2_K", 0.400},
    };
    gguf_file *ref = NULL;
    ASSERT(gguf_open(slm_test_data("models/llama/model.gguf"), &ref) == SLM_OK, "%s",
           slm_last_error());
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/llama/model.%s.gguf", bounds[k].type);
        gguf_file *q = NULL;
        if (gguf_open(slm_test_data(rel), &q) != SLM_OK) {
            slm_test_fail(__FILE__, __LINE__, "%s", slm_last_error());
            continue;
        }
        double worst = 0;
        for (uint64_t i = 0; i < ref->n_tensors; i++) {
            const gguf_tensor *src = &ref->tensors[i];
            const gguf_tensor *dst = gguf_find_tensor(q, src->name);
            if (!dst) {
                slm_test_fail(__FILE__, __LINE__, "%s: no tensor %s", rel, src->name);
                continue;
            }
            int64_t n = 1;
            for (uint32_t d = 0; d < src->n_dims; d++) n *= src->ne[d];
            const float *want = (const float *)src->data;
            if (src->n_dims == 1) {
                EXPECT(dst->type == SLM_TYPE_F32 && memcmp(dst->data, want, n * 4) == 0,
                       "%s %s", rel, src->name);
                continue;
            }
            EXPECT(dst->type == (uint32_t)slm_type_from_name(bounds[k].type), "%s", src->name);
            if (!slm_type_traits_get((int)dst->type)) continue;
            float *got = dequant((int)dst->type, dst->data, n);
            double max_ref = 0, max_err = 0;
            int n_bad = 0;
            for (int64_t e = 0; e < n; e++) {
                if (!isfinite(got[e])) n_bad++;
                max_ref = fmax(max_ref, fabs(want[e]));
                max_err = fmax(max_err, fabs((double)got[e] - want[e]));
            }
            EXPECT(n_bad == 0, "%s %s: %d non-finite values", rel, src->name, n_bad);
            double err = max_err / max_ref;
            EXPECT(err <= bounds[k].bound, "%s %s: normalised error %.5f > %.5f", rel, src->name,
                   err, bounds[k].bound);
            if (err > worst) worst = err;
            free(got);
        }
        if (getenv("SLM_TEST_VERBOSE"))
            printf("  %-5s worst normalised error %.5f (bound %.5f)\n", bounds[k].type, worst,
                   bounds[k].bound);
        gguf_close(q);
    }
    gguf_close(ref);
}
