/* mmap.c — a whole file, read-only: mapped, or read into anonymous memory
 * (POSIX mmap; see mmap.h). */
#include "base/mmap.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

slm_status slm_map_file(const char *path, slm_file_map *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return slm_err(SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return slm_err(SLM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return slm_err(SLM_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return SLM_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return slm_err(SLM_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    out->data = p;
    out->size = (size_t)st.st_size;
    return SLM_OK;
}

#define HUGE_PAGE ((size_t)2 << 20)

void *slm_huge_alloc(size_t size, size_t *alloc_size) {
    const size_t alloc = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (alloc < size || alloc + HUGE_PAGE < alloc) {
        errno = ENOMEM;
        return NULL;
    }
    /* over-allocate by one huge page, then trim both ends to a 2 MiB boundary */
    uint8_t *raw = mmap(NULL, alloc + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (p + alloc < raw + alloc + HUGE_PAGE) munmap(p + alloc, (size_t)(raw + alloc + HUGE_PAGE - (p + alloc)));
#if defined(MADV_HUGEPAGE)
    madvise(p, alloc, MADV_HUGEPAGE); /* advice: failure (no THP) only costs speed */
#endif
    *alloc_size = alloc;
    return p;
}

void slm_huge_free(void *p, size_t alloc_size) {
    if (p) munmap(p, alloc_size);
}

/* Bytes [lo, hi) of fd into p + lo; failed_at / err say where and why not. */
typedef struct {
    int fd;
    uint8_t *p;
    size_t lo, hi, failed_at;
    int err;
} read_part;

static void *read_range(void *arg) {
    read_part *r = arg;
    for (size_t done = r->lo; done < r->hi;) {
        const size_t chunk = r->hi - done < ((size_t)1 << 30) ? r->hi - done : ((size_t)1 << 30);
        const ssize_t n = pread(r->fd, r->p + done, chunk, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r->failed_at = done ? done : 1;
            r->err = n < 0 ? errno : 0;
            return NULL;
        }
        done += (size_t)n;
    }
    return r;
}

slm_status slm_read_file(const char *path, slm_file_map *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return slm_err(SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return slm_err(SLM_ERR_IO, "%s: %s", path, S_ISREG(st.st_mode) ? strerror(e) : "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return SLM_OK;
    }
    const size_t size = (size_t)st.st_size;
    size_t alloc;
    uint8_t *p = slm_huge_alloc(size, &alloc);
    if (!p) {
        int e = errno;
        close(fd);
        return slm_err(SLM_ERR_NOMEM, "%s: cannot allocate %zu bytes: %s", path, size, strerror(e));
    }
    /* several readers, each on its own huge pages: the copy from the page
     * cache and the kernel's zeroing of fresh huge pages both scale */
    enum { MAX_READERS = 4 };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nr = ncpu < 1 ? 1 : ncpu > MAX_READERS ? MAX_READERS : (int)ncpu;
    if (size < ((size_t)64 << 20)) nr = 1;
    read_part parts[MAX_READERS];
    pthread_t th[MAX_READERS];
    const size_t per = (size / (size_t)nr + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    for (int i = 0; i < nr; i++) {
        const size_t lo = (size_t)i * per < size ? (size_t)i * per : size;
        const size_t hi = lo + per < size ? lo + per : size;
        parts[i] = (read_part){fd, p, lo, hi, 0, 0};
    }
    int started = 1;
    for (int i = 1; i < nr && started == i; i++)
        if (pthread_create(&th[i], NULL, read_range, &parts[i]) == 0) started++;
    read_range(&parts[0]);
    for (int i = started; i < nr; i++) read_range(&parts[i]); /* threads we did not get */
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < nr; i++)
        if (parts[i].failed_at || parts[i].err) {
            munmap(p, alloc);
            close(fd);
            return slm_err(SLM_ERR_IO, "%s: read failed at byte %zu of %zu: %s", path, parts[i].failed_at, size,
                           parts[i].err ? strerror(parts[i].err) : "file shrank while reading");
        }
    close(fd);
    mprotect(p, alloc, PROT_READ); /* the weights are never written */
    out->data = p;
    out->size = size;
    out->anon_size = alloc;
    return SLM_OK;
}

void slm_unmap_file(slm_file_map *m) {
    if (m->data && m->anon_size) munmap((void *)m->data, m->anon_size);
    else if (m->data && m->size) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}
