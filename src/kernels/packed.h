/*
 * packed.h — weight matrices repacked at load time for decoding: rows
 * interleaved in groups of SLM_PACK_ROWS, so that one 64-byte load holds 4
 * bytes of each of 16 rows and one VPDPBUSD with 4 activation bytes
 * broadcast advances all 16 rows' dot products (the rows' int32 sums sit in
 * the 16 lanes of one register). A row-by-row dot spends most of its
 * instructions per block on reductions and scale handling; interleaved, those
 * are paid once per 16 rows, which moves 4-bit decoding from compute- to
 * memory-bound on a 2-core machine.
 *
 * The layouts are byte permutations of the GGUF blocks (same size, nothing
 * converted, exactly invertible), defined here once for every ISA; a group
 * holds the 16 rows' block b for b = 0, 1, ... in turn:
 *
 *   Q4_0 (16 x 18 bytes per block column):
 *     uint16 d[16]                 row r's fp16 scale
 *     uint8  qs[4][16][4]          qs[k][r][j] = row r's qs[4k + j]: low nibble
 *                                  value 4k + j, high nibble value 16 + 4k + j
 *   Q5_0 (16 x 22 bytes per block column):
 *     uint16 d[16]
 *     uint32 qh[16]                row r's fifth bits (bit v: value v)
 *     uint8  qs[4][16][4]          as Q4_0
 *   Q8_0 (16 x 34 bytes per block column):
 *     uint16 d[16]
 *     int8   qs[8][16][4]          qs[k][r][j] = row r's qs[4k + j] (value 4k + j)
 *   Q4_K (16 x 144 bytes per super-block):
 *     uint16 d[16], dmin[16]
 *     uint32 scales[3][16]         word w of row r's 12 packed scale bytes
 *     uint8  qs[4][8][16][4]       qs[c][k][r][j] = row r's qs[32c + 4k + j]:
 *                                  low nibble value 64c + 4k + j (sub-block
 *                                  2c), high nibble 64c + 32 + 4k + j (2c + 1)
 *   Q6_K (16 x 210 bytes per super-block; d leads here, it ends a GGUF block):
 *     uint16 d[16]
 *     uint8  ql[2][16][16][4]       ql[h][k][r][j] = row r's ql[64h + 4k + j]
 *     uint8  qh[2][8][16][4]        qh[h][k][r][j] = row r's qh[32h + 4k + j]
 *     int32  scales[4][16]          word s of row r's 16 int8 scales
 *                                   (so ql dword k of half h holds values
 *                                   128h + 4k + j (low nibbles, high bits from
 *                                   qh dword k % 8 at bit 2 (k / 8)) and 128h
 *                                   + 64 + 4k + j (high nibbles, bit 4 + 2 (k / 8)))
 *
 * A matrix of n_out rows becomes ceil(n_out / 16) groups of 16 * row_bytes;
 * rows past n_out in the last group are zero (their results are discarded).
 * Kernels: the table's gemv_packed (kernels.h); slm_unpack_rows gives back
 * the GGUF rows for everything else (prompt batches through the gemm, tables
 * without a packed kernel).
 */
#ifndef SLM_KERNELS_PACKED_H
#define SLM_KERNELS_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLM_PACK_ROWS 16

/* Whether type has an interleaved layout. */
bool slm_pack_type(int type);

/* Bytes of the packed matrix: ceil(n_rows / 16) groups of 16 rows. */
static inline size_t slm_packed_size(size_t row_bytes, int64_t n_rows) {
    return (size_t)((n_rows + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS) * SLM_PACK_ROWS * row_bytes;
}

/* One group: rows src + r * src_stride for r < nr (1..16; rows past nr are
 * zero) of n values of type -> dst (16 * row_bytes). */
void slm_pack_rows(int type, int64_t n, const uint8_t *src, size_t src_stride, int nr, uint8_t *dst);

/* The inverse: the first nr rows of one group -> dst + r * dst_stride. */
void slm_unpack_rows(int type, int64_t n, const uint8_t *group, int nr, uint8_t *dst, size_t dst_stride);
/* Row r (0..15) of one group -> dst (one GGUF row). */
void slm_unpack_row(int type, int64_t n, const uint8_t *group, int r, uint8_t *dst);

#endif
