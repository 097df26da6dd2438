#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "cachegen.h"
#include "log.h"
#include "shmfile.h"
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
	struct gen_table *t;
	int fd;

	t = shmfile_map_locked(path, sizeof(*t), 0660, &fd);
	if (!t) {
		log_warn("cache: cannot map %s (%s); every request reads memcached",
		    path, strerror(errno));
		return;
	}
	if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != CACHEGEN_MAGIC) {
		memset(t->slots, 0, sizeof(t->slots));
		__atomic_store_n(&t->magic, CACHEGEN_MAGIC, __ATOMIC_RELEASE);
	}
	shmfile_release(fd);
	table = t;
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
