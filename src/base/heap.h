/*
 * heap.h — a growable binary heap of a value type, generated per type:
 *
 *     static inline bool my_before(const T *a, const T *b);   // a comes out first
 *     SLM_HEAP_DEFINE(my, T, my_before)
 *
 * defines `my_heap` ({T *h; size_t n, cap;}, zero-initialised = empty) and
 * static my_heap_push (false when out of memory), my_heap_pop (n must be > 0)
 * and my_heap_free. Typed code, not void* + comparator, because the tokenizer's
 * merge loops push and pop once per merge and the comparison must inline.
 * Used by the SentencePiece and BPE tokenizers and the BPE trainer.
 */
#ifndef SLM_BASE_HEAP_H
#define SLM_BASE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define SLM_HEAP_DEFINE(P, T, BEFORE)                                          \
    typedef struct {                                                           \
        T *h;                                                                  \
        size_t n, cap;                                                         \
    } P##_heap;                                                                \
    static inline bool P##_heap_push(P##_heap *q, T x) {                       \
        if (q->n == q->cap) {                                                  \
            size_t cap = q->cap ? 2 * q->cap : 64;                             \
            T *h = realloc(q->h, cap * sizeof *h);                             \
            if (!h) return false;                                              \
            q->h = h;                                                          \
            q->cap = cap;                                                      \
        }                                                                      \
        size_t i = q->n++;                                                     \
        while (i > 0) {                                                        \
            size_t parent = (i - 1) / 2;                                       \
            if (!BEFORE(&x, &q->h[parent])) break;                             \
            q->h[i] = q->h[parent];                                            \
            i = parent;                                                        \
        }                                                                      \
        q->h[i] = x;                                                           \
        return true;                                                           \
    }                                                                          \
    static inline T P##_heap_pop(P##_heap *q) {                                \
        T top = q->h[0], last = q->h[--q->n];                                  \
        size_t i = 0;                                                          \
        for (;;) {                                                             \
            size_t c = 2 * i + 1;                                              \
            if (c >= q->n) break;                                              \
            if (c + 1 < q->n && BEFORE(&q->h[c + 1], &q->h[c])) c++;           \
            if (!BEFORE(&q->h[c], &last)) break;                               \
            q->h[i] = q->h[c];                                                 \
            i = c;                                                             \
        }                                                                      \
        if (q->n > 0) q->h[i] = last;                                          \
        return top;                                                            \
    }                                                                          \
    static inline void P##_heap_free(P##_heap *q) {                            \
        free(q->h);                                                            \
        q->h = NULL;                                                           \
        q->n = q->cap = 0;                                                     \
    }

#endif
