/* Loads libduckdb.so on first use (see duckdb_api.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#define PGW_DUCKDB_API_LOADER
#include "sink/duckdb/duckdb_api.h"

struct pgw_duckdb_api pgw_duckdb_api;

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static bool loaded;

/* Every slot from the library; the name of the first it lacks, or NULL */
static const char *resolve(void *lib)
{
#define PGW_DUCKDB_RESOLVE(name)                                   \
	if (!(*(void **)&pgw_duckdb_api.name = dlsym(lib, #name))) \
		return #name;
	PGW_DUCKDB_FUNCTIONS(PGW_DUCKDB_RESOLVE)
#undef PGW_DUCKDB_RESOLVE
	return NULL;
}

int pgw_duckdb_load(struct pgw_err *err)
{
	pthread_mutex_lock(&load_mu);
	int rc = 0;
	if (!loaded) {
		/* found as a linked library would be: through the program's run path, next to it once
		 * installed ($ORIGIN/../lib/pgwarehouse), or in deps/lib in a build tree */
		void *lib = dlopen("libduckdb.so", RTLD_NOW | RTLD_LOCAL);
		const char *missing = lib ? resolve(lib) : NULL;
		if (!lib)
			rc = pgw_err_set(
				err, PGW_ERR_CONFIG,
				"cannot load DuckDB: %s; reinstall with `make install`, which puts libduckdb.so "
				"in PREFIX/lib/pgwarehouse, or set LD_LIBRARY_PATH to its directory",
				dlerror());
		else if (missing)
			rc = pgw_err_set(err, PGW_ERR_CONFIG,
					 "libduckdb.so lacks %s; pgwarehouse needs DuckDB 1.4 or later", missing);
		loaded = rc == 0;
	}
	pthread_mutex_unlock(&load_mu);
	return rc;
}
