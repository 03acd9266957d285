#ifndef CSLUICE_SYSTEM_H
#define CSLUICE_SYSTEM_H

/// Atomically exchanges two paths (Linux renameat2 with RENAME_EXCHANGE). Returns 0, or -1 with errno
/// set (ENOSYS or EINVAL where the kernel or file system cannot do it).
int sluice_exchange_paths(const char *a, const char *b);

#endif
