/*
 * mmap.h — a whole file mapped read-only. The mapping is never written;
 * anything derived from it (repacked weights, decoded strings) lives in
 * owned memory. An empty file maps to data == NULL, size == 0.
 */
#ifndef SLM_BASE_MMAP_H
#define SLM_BASE_MMAP_H

#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    int owned_copy; /* 1 if data is a malloc'd copy (no mmap available) */
} slm_file_map;

slm_status slm_map_file(const char *path, slm_file_map *out);
void slm_unmap_file(slm_file_map *m);

#endif
