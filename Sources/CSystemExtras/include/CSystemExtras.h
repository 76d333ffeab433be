// Linux calls that Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef JOBCAST_CSYSTEMEXTRAS_H
#define JOBCAST_CSYSTEMEXTRAS_H

/// syncfs(2): writes every dirty page and metadata change of the file system holding `fd` to disk, in one
/// call; the outbox makes a whole batch of files and renames durable with it. Returns 0, or -1 with errno.
int jc_syncfs(int fd);

#endif
