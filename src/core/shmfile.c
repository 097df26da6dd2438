#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmfile.h"
#include "banned.h"

void *
shmfile_map_locked(const char *path, size_t size, mode_t mode, int *fd)
{
	void *p;
	int saved;

	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
	if (*fd < 0)
		return NULL;
	if (flock(*fd, LOCK_EX) == 0 && ftruncate(*fd, (off_t)size) == 0) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
		if (p != MAP_FAILED)
			return p;
	}
	saved = errno;
	close(*fd);
	*fd = -1;
	errno = saved;
	return NULL;
}

void
shmfile_release(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}
