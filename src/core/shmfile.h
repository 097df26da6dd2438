/*
 * shmfile.h - a small file shared by every Parley process of the host,
 * mapped MAP_SHARED (the metrics scoreboard, cache write generations).
 */
#ifndef PARLEY_SHMFILE_H
#define PARLEY_SHMFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Opens path (created with mode if missing), sizes it to size and maps it.
 * Returns the mapping with an exclusive flock held on *fd, so that the
 * caller can check and initialise the contents before anyone else does;
 * then shmfile_release(*fd). NULL on error (errno says why; nothing held).
 */
void *shmfile_map_locked(const char *path, size_t size, mode_t mode, int *fd);
/* Drops the lock and the descriptor (the mapping stays). */
void shmfile_release(int fd);

#endif
