/*
 * kscales.h — unpacking the packed sub-block scales of the K-quants into
 * plain bytes, shared by the reference integer dots and the SIMD kernels.
 * Layouts are those of quant/blocks.h; the word-wise forms below are derived
 * from them (each 32-bit word holds four little-endian bytes).
 */
#ifndef SLM_KERNELS_KSCALES_H
#define SLM_KERNELS_KSCALES_H

#include <stdint.h>
#include <string.h>

/*
 * Q4_K / Q5_K: 12 bytes s[] -> 8 scales sc[8] and 8 mins m[8] (6 bits each).
 *   j < 4:  sc_j = s[j] & 63,                         m_j = s[j+4] & 63
 *   j >= 4: sc_j = (s[j+4] & 15) | (s[j-4] >> 6) << 4, m_j = (s[j+4] >> 4) | (s[j] >> 6) << 4
 * With words w0 = s[0..3], w1 = s[4..7], w2 = s[8..11] this is, byte-wise:
 *   sc[0..3] = w0 & 0x3f,  m[0..3] = w1 & 0x3f,
 *   sc[4..7] = (w2 & 0x0f) | ((w0 >> 6) & 3) << 4,  m[4..7] = ((w2 >> 4) & 0x0f) | ((w1 >> 6) & 3) << 4.
 */
static inline void slm_unpack_k4_scales(const uint8_t s[12], uint8_t sc[8], uint8_t m[8]) {
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    o[0] = w[0] & 0x3f3f3f3fu;
    o[1] = (w[2] & 0x0f0f0f0fu) | ((w[0] >> 6) & 0x03030303u) << 4;
    o[2] = w[1] & 0x3f3f3f3fu;
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 6) & 0x03030303u) << 4;
    memcpy(sc, o, 8);
    memcpy(m, o + 2, 8);
}

/*
 * Q3_K: 12 bytes s[] -> 16 signed scales (stored value - 32). Scale j has its
 * low 4 bits in s[j % 8] (low nibble for j < 8, high for j >= 8) and its high
 * 2 bits in s[8 + j % 4] at bit 2 * (j / 4). Word-wise, with a = s[0..3],
 * b = s[4..7], h = s[8..11]:
 *   sc[0..3] = a & 15 | (h & 3) << 4          sc[4..7]   = b & 15 | (h >> 2 & 3) << 4
 *   sc[8..11] = a >> 4 & 15 | (h >> 4 & 3) << 4  sc[12..15] = b >> 4 & 15 | (h >> 6 & 3) << 4
 */
static inline void slm_unpack_q3k_scales(const uint8_t s[12], int8_t sc[16]) {
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    o[0] = (w[0] & 0x0f0f0f0fu) | (w[2] & 0x03030303u) << 4;
    o[1] = (w[1] & 0x0f0f0f0fu) | (w[2] >> 2 & 0x03030303u) << 4;
    o[2] = (w[0] >> 4 & 0x0f0f0f0fu) | (w[2] >> 4 & 0x03030303u) << 4;
    o[3] = (w[1] >> 4 & 0x0f0f0f0fu) | (w[2] >> 6 & 0x03030303u) << 4;
    uint8_t u[16];
    memcpy(u, o, 16);
    for (int j = 0; j < 16; j++) sc[j] = (int8_t)(u[j] - 32);
}

#endif
