#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cachegen.h"
#include "log.h"
#include "banned.h"

#define CACHEGEN_MAGIC 0x50617267656e3031ULL /* "Pargen01" */

struct gen_table {
	uint64_t magic;
	uint64_t slots[CACHEGEN_SLOTS];
};

static struct gen_table *table;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int tried;

static void
map_table(const char *path)
{
	int fd;
	void *p;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0 || flock(fd, LOCK_EX) != 0 ||
	    ftruncate(fd, sizeof(struct gen_table)) != 0)
		goto fail;
	p = mmap(NULL, sizeof(struct gen_table), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	table = p;
	if (__atomic_load_n(&table->magic, __ATOMIC_ACQUIRE) != CACHEGEN_MAGIC) {
		memset(table->slots, 0, sizeof(table->slots));
		__atomic_store_n(&table->magic, CACHEGEN_MAGIC, __ATOMIC_RELEASE);
	}
	flock(fd, LOCK_UN);
	close(fd);
	return;
fail:
	log_warn("cache: cannot map %s (%s); every request reads memcached",
	    path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
cachegen_open(const char *path)
{
	pthread_mutex_lock(&open_lock);
	if (!tried && path && *path)
		map_table(path);
	tried = 1;
	pthread_mutex_unlock(&open_lock);
	return table ? 0 : -1;
}

int
cachegen_enabled(void)
{
	return table != NULL;
}

uint32_t
cachegen_slot(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % CACHEGEN_SLOTS;
}

uint64_t
cachegen_read(uint32_t slot)
{
	return table ? __atomic_load_n(&table->slots[slot], __ATOMIC_ACQUIRE) : 0;
}

void
cachegen_bump(uint32_t slot)
{
	if (table)
		__atomic_fetch_add(&table->slots[slot], 1, __ATOMIC_RELEASE);
}
