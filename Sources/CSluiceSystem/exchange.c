#define _GNU_SOURCE
#include "CSluiceSystem.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

int sluice_exchange_paths(const char *a, const char *b) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int sluice_start_write_back(int fd, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int sluice_open_direct(const char *path) {
#if defined(__linux__) && defined(O_DIRECT)
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
#else
    (void)path;
    errno = EINVAL;
    return -1;
#endif
}

int sluice_end_direct(int fd) {
#if defined(__linux__) && defined(O_DIRECT)
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags & ~O_DIRECT);
#else
    (void)fd;
    return 0;
#endif
}

long long sluice_copy_file_range(int in, long long *in_offset, int out, long long length) {
#if defined(__linux__)
    off64_t offset = (off64_t)*in_offset;
    ssize_t n = copy_file_range(in, &offset, out, NULL, (size_t)length, 0);
    if (n >= 0) *in_offset = (long long)offset;
    return (long long)n;
#else
    (void)in; (void)in_offset; (void)out; (void)length;
    errno = ENOSYS;
    return -1;
#endif
}
