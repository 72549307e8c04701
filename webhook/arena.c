/* arena.c - a per-thread bump allocator for the cJSON trees of one request.
 *
 * A review parses a body of a few KB into about 150 cJSON nodes and
 * strings, builds an answer of as many again, and frees them all before it
 * returns. Through malloc that is some 300 allocations and frees a
 * request, and the frees of a parsed tree send glibc's allocator into
 * consolidation: half of the server's CPU went there. Inside an arena
 * scope cJSON's allocations are cut from a block the thread keeps, its
 * frees do nothing, and leaving the scope makes the whole block free again.
 *
 * cJSON's hooks are process-wide; outside a scope (other threads, other
 * commands) they fall through to malloc and free. A free of memory that is
 * not the thread's arena goes to free(), so trees made outside a scope may
 * be deleted inside one. Nothing made inside a scope may outlive it. */
#include "webhook/internal.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define DS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DS_ASAN 1
#endif
#endif
#ifdef DS_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The block a thread keeps between requests: large enough for the trees
 * of a typical review, so a request normally allocates nothing. */
#define FIRST_BLOCK (64u * 1024)
#define ALIGN 16u

/* One block of the arena; blocks after the first are released at the end
 * of each scope. */
struct block {
	struct block *next;
	size_t size; /* bytes in data */
	size_t used;
	_Alignas(ALIGN) unsigned char data[];
};

struct arena {
	struct block *head;  /* the block being cut from; its chain ends in the kept one */
	struct block *kept;  /* the thread's first block, NULL until a scope needs it */
	unsigned depth;      /* nested scopes; 0: cJSON uses malloc */
};

static _Thread_local struct arena arena;
static pthread_key_t kept_key;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static bool installed;

/* A new block with room for at least `need` bytes, or NULL. */
static struct block *block_new(size_t need, size_t at_least)
{
	size_t size = need > at_least ? need : at_least;
	struct block *b;

	if (size > SIZE_MAX / 2 - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	POISON(b->data, size);
	return b;
}

/* Whether p lies in one of the thread's blocks. */
static bool owns(const void *p)
{
	const unsigned char *c = p;

	for (const struct block *b = arena.head ? arena.head : arena.kept; b; b = b->next)
		if (c >= b->data && c < b->data + b->size)
			return true;
	return false;
}

static void *arena_alloc(size_t size)
{
	struct block *b = arena.head;
	size_t want = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	void *p;

	if (!arena.depth)
		return malloc(size);
	if (want < size)
		return NULL;
	if (want > b->size - b->used) {
		b = block_new(want, b->size * 2);
		if (!b)
			return NULL;
		b->next = arena.head;
		arena.head = b;
	}
	p = b->data + b->used;
	b->used += want;
	UNPOISON(p, size);
	return p;
}

static void arena_free(void *p)
{
	if (p && !owns(p))
		free(p);
}

/* Frees the block of a thread that ends. It runs on that thread, among
 * other keys' destructors that may still free cJSON memory: the arena is
 * emptied first, so that owns() no longer looks at the block. */
static void release_kept(void *kept)
{
	arena.head = NULL;
	arena.kept = NULL;
	arena.depth = 0;
	free(kept);
}

static void install(void)
{
	cJSON_Hooks hooks = {.malloc_fn = arena_alloc, .free_fn = arena_free};

	installed = pthread_key_create(&kept_key, release_kept) == 0;
	if (installed)
		cJSON_InitHooks(&hooks);
}

void ds_arena_install(void)
{
	pthread_once(&install_once, install);
}

void ds_arena_begin(void)
{
	if (!installed)
		return;
	if (arena.depth) {
		arena.depth++;
		return;
	}
	if (!arena.kept) {
		arena.kept = block_new(FIRST_BLOCK, 0);
		if (!arena.kept || pthread_setspecific(kept_key, arena.kept) != 0) {
			free(arena.kept);
			arena.kept = NULL;
			return; /* no arena: cJSON keeps using malloc */
		}
	}
	arena.head = arena.kept;
	arena.depth = 1;
}

void ds_arena_end(void)
{
	struct block *b = arena.head;

	if (!arena.depth || --arena.depth)
		return;
	while (b != arena.kept) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	arena.kept->used = 0;
	POISON(arena.kept->data, arena.kept->size);
	arena.head = NULL;
}
