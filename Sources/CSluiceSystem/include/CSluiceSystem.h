#ifndef CSLUICE_SYSTEM_H
#define CSLUICE_SYSTEM_H

/// Atomically exchanges two paths (Linux renameat2 with RENAME_EXCHANGE). Returns 0, or -1 with errno
/// set (ENOSYS or EINVAL where the kernel or file system cannot do it).
int sluice_exchange_paths(const char *a, const char *b);

/// Starts writing back the dirty pages of `[offset, offset + length)` of `fd` and returns without
/// waiting (Linux sync_file_range with SYNC_FILE_RANGE_WRITE). Returns 0, or -1 with errno set; a
/// no-op returning 0 elsewhere.
int sluice_start_write_back(int fd, long long offset, long long length);

/// Creates (or truncates) `path` for writing that bypasses the page cache (Linux O_DIRECT; mode 0644,
/// close-on-exec). Writes must then start at, and be sized in, multiples of the file system's block and
/// come from a buffer aligned the same way. Returns the descriptor, or -1 with errno set (EINVAL where
/// the file system or platform cannot do it).
int sluice_open_direct(const char *path);

/// Turns direct I/O off on `fd` (for a file's last, unaligned bytes). Returns 0, or -1 with errno set.
int sluice_end_direct(int fd);

/// Copies `length` bytes of `in` from `*in_offset` (advanced) to `out` at its current offset, in the
/// kernel (Linux copy_file_range). Returns the bytes copied, or -1 with errno set (ENOSYS, EXDEV or
/// EINVAL where the kernel or file system cannot; always ENOSYS elsewhere).
long long sluice_copy_file_range(int in, long long *in_offset, int out, long long length);

#endif
