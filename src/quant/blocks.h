/*
 * blocks.h — the quant block structs, byte-compatible with GGUF / ggml.
 *
 * A quantized row is an array of blocks; each block codes a fixed number of
 * consecutive values (32 for the legacy types, QK_K = 256 for the K-quants).
 * Every struct below is exactly the bytes of one block in a GGUF file (all
 * little-endian; fp16 values are IEEE half stored as uint16_t). The size of
 * each struct is checked at compile time so that a padding byte can never
 * slip in.
 *
 * Nibble order: in the 32-value legacy blocks, byte j holds value j in its
 * low nibble and value j+16 in its high nibble. The K-quant packings are
 * described beside each struct.
 */
#ifndef SLM_QUANT_BLOCKS_H
#define SLM_QUANT_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12 /* packed 6-bit scales + mins of Q4_K / Q5_K */

/* ------------------------------------------------------------------------ */
/* Legacy types: 32 values per block                                        */
/* ------------------------------------------------------------------------ */

/* Q4_0 (18 bytes): d fp16 | qs[16]. value = d * (q - 8), q in 0..15. */
typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 2 + QK4_0 / 2, "block_q4_0 size");

/* Q4_1 (20 bytes): d fp16 | m fp16 | qs[16]. value = d * q + m, q in 0..15. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 4 + QK4_1 / 2, "block_q4_1 size");

/* Q5_0 (22 bytes): d fp16 | qh[4] | qs[16]. value = d * (q - 16), q in 0..31;
 * the low 4 bits of q are nibbles of qs, bit 4 of value j is bit j of the
 * little-endian uint32 qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 2 + 4 + QK5_0 / 2, "block_q5_0 size");

/* Q5_1 (24 bytes): d fp16 | m fp16 | qh[4] | qs[16]. value = d * q + m,
 * q in 0..31, bits as in Q5_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 4 + 4 + QK5_1 / 2, "block_q5_1 size");

/* Q8_0 (34 bytes): d fp16 | qs[32] int8. value = d * q. */
typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 2 + QK8_0, "block_q8_0 size");

/* Q8_1 (36 bytes): d fp16 | s fp16 | qs[32] int8. value = d * q;
 * s = d * sum(q) (used by dot products against Q4_1 / Q5_1). */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 4 + QK8_1, "block_q8_1 size");

/* ------------------------------------------------------------------------ */
/* K-quants: super-blocks of QK_K = 256 values                               */
/* ------------------------------------------------------------------------ */

/* Q2_K (84 bytes): scales[16] | qs[64] | d fp16 | dmin fp16.
 * 16 sub-blocks of 16 values; scales[j] = (min_j << 4) | scale_j (4 bits each).
 * value = d * scale_j * q - dmin * min_j, q in 0..3.
 * qs: the 256 values in two halves of 128; in half h, byte h*32 + l holds
 * values h*128 + l + 32*s in bits 2s..2s+1 (s = 0..3). */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == QK_K / 16 + QK_K / 4 + 4, "block_q2_K size");

/* Q3_K (110 bytes): hmask[32] | qs[64] | scales[12] | d fp16.
 * 16 sub-blocks of 16 values with 6-bit signed scales (stored + 32):
 * scale j has its low 4 bits in scales[j % 8] (low nibble for j < 8, high
 * nibble for j >= 8) and its high 2 bits in scales[8 + j % 4] at bit 2*(j/4).
 * value = d * (scale_j - 32) * (q - 4), q in 0..7: the low 2 bits of q are
 * packed as in Q2_K, bit 2 of value k is bit k/32 of hmask[k % 32]. */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == QK_K / 8 + QK_K / 4 + 12 + 2, "block_q3_K size");

/* Q4_K (144 bytes): d fp16 | dmin fp16 | scales[12] | qs[128].
 * 8 sub-blocks of 32 values with 6-bit scales sc_j and mins m_j packed in
 * scales[12]: for j < 4, sc_j = scales[j] & 63, m_j = scales[j+4] & 63; for
 * j >= 4, sc_j = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,
 * m_j = (scales[j+4] >> 4) | (scales[j] >> 6) << 4.
 * value = d * sc_j * q - dmin * m_j, q in 0..15. qs: 4 chunks of 32 bytes;
 * chunk c holds values 64c + l (low nibble) and 64c + 32 + l (high nibble). */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 4 + K_SCALE_SIZE + QK_K / 2, "block_q4_K size");

/* Q5_K (176 bytes): d fp16 | dmin fp16 | scales[12] | qh[32] | qs[128].
 * Scales and low 4 bits as in Q4_K, q in 0..31; bit 4 of value 64c + l is
 * bit 2c of qh[l], of value 64c + 32 + l bit 2c+1 of qh[l]. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 4 + K_SCALE_SIZE + QK_K / 8 + QK_K / 2, "block_q5_K size");

/* Q6_K (210 bytes): ql[128] | qh[64] | scales[16] int8 | d fp16.
 * 16 sub-blocks of 16 values; value = d * scales[j] * (q - 32), q in 0..63.
 * Two halves of 128 values (ql += 64, qh += 32 per half); in a half, for
 * l in 0..31: value l+0 = ql[l] low | qh[l] bits 0-1, value l+32 = ql[l+32]
 * low | qh bits 2-3, value l+64 = ql[l] high | qh bits 4-5, value l+96 =
 * ql[l+32] high | qh bits 6-7 (qh bits are the 2 high bits of q). */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, "block_q6_K size");

/* Q8_K (292 bytes): d float32 | qs[256] int8 | bsums[16] int16.
 * value = d * q; bsums[j] = sum of qs[16j .. 16j+15]. Used for activations
 * in dot products with the K-quants, never stored in model files. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 4 + QK_K + QK_K / 16 * 2, "block_q8_K size");

/* ------------------------------------------------------------------------ */
/* Reference row conversions (quant_float.c, quant_legacy.c, quant_k.c)      */
/* ------------------------------------------------------------------------ */
/* slm_dequant_row_T: n values (a multiple of the block size) from blocks.
 * slm_quant_row_T: n values into blocks; returns the bytes written. The
 * quantizers reproduce llama.cpp's reference quantizers (no importance
 * matrix) bit for bit. These are reached through slm_type_traits_get(). */

void slm_dequant_row_f32(const void *src, float *dst, int64_t n);
size_t slm_quant_row_f32(const float *src, void *dst, int64_t n);
void slm_dequant_row_f16(const void *src, float *dst, int64_t n);
size_t slm_quant_row_f16(const float *src, void *dst, int64_t n);
void slm_dequant_row_bf16(const void *src, float *dst, int64_t n);
size_t slm_quant_row_bf16(const float *src, void *dst, int64_t n);
void slm_dequant_row_q4_0(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q4_0(const float *src, void *dst, int64_t n);
void slm_dequant_row_q4_1(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q4_1(const float *src, void *dst, int64_t n);
void slm_dequant_row_q5_0(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q5_0(const float *src, void *dst, int64_t n);
void slm_dequant_row_q5_1(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q5_1(const float *src, void *dst, int64_t n);
void slm_dequant_row_q8_0(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q8_0(const float *src, void *dst, int64_t n);
void slm_dequant_row_q8_1(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q8_1(const float *src, void *dst, int64_t n);
void slm_dequant_row_q2_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q2_K(const float *src, void *dst, int64_t n);
void slm_dequant_row_q3_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q3_K(const float *src, void *dst, int64_t n);
void slm_dequant_row_q4_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q4_K(const float *src, void *dst, int64_t n);
void slm_dequant_row_q5_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q5_K(const float *src, void *dst, int64_t n);
void slm_dequant_row_q6_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q6_K(const float *src, void *dst, int64_t n);
void slm_dequant_row_q8_K(const void *src, float *dst, int64_t n);
size_t slm_quant_row_q8_K(const float *src, void *dst, int64_t n);

#endif
