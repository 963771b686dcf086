/* pgwarehouse_conf.yaml: its stanzas, per-table options, and the environment
 * fallbacks. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/yamltree.h"
#include "core/buf.h"
#include "core/log.h"

#define DEFAULT_CONFIG "pgwarehouse_conf.yaml"

struct key_slot {
	const char *key;
	size_t offset; /* of a char * field in struct pgw_config */
	const char *env;
};

#define SLOT(k, env)                                    \
	{                                               \
#k, offsetof(struct pgw_config, k), env \
	}
#define SLOT_TEXT(k, env)                                      \
	{                                                      \
#k, offsetof(struct pgw_config, k##_text), env \
	}
static const struct key_slot postgres_keys[] = {
	SLOT(pghost, "PGHOST"),
	SLOT(pgport, "PGPORT"),
	SLOT(pgdatabase, "PGDATABASE"),
	SLOT(pguser, "PGUSER"),
	SLOT(pgpassword, "PGPASSWORD"),
	SLOT(pgschema, "PGSCHEMA"),
	SLOT(pgsslmode, "PGSSLMODE"),
	SLOT(replication_slot, "PGWAREHOUSE_REPLICATION_SLOT"),
	SLOT(publication, "PGWAREHOUSE_PUBLICATION"),
	SLOT_TEXT(max_slot_lag, "PGWAREHOUSE_MAX_SLOT_LAG"),
	SLOT_TEXT(copy_streams, "PGWAREHOUSE_COPY_STREAMS"),
	SLOT_TEXT(copy_streams_min_size, "PGWAREHOUSE_COPY_STREAMS_MIN_SIZE"),
};
static const struct key_slot warehouse_keys[] = {
	SLOT(backend, "PGWAREHOUSE_BACKEND"),
	SLOT(duckdb_path, "DUCKDB_PATH"),
	SLOT(duckdb_memory_limit, "DUCKDB_MEMORY_LIMIT"),
	SLOT(duckdb_threads, "DUCKDB_THREADS"),
	SLOT(clickhouse_host, "CLICKHOUSE_HOST"),
	SLOT(clickhouse_port, "CLICKHOUSE_PORT"),
	SLOT(clickhouse_database, "CLICKHOUSE_DATABASE"),
	SLOT(clickhouse_user, "CLICKHOUSE_USER"),
	SLOT(clickhouse_password, "CLICKHOUSE_PWD"),
	SLOT(clickhouse_secure, "CLICKHOUSE_SECURE"),
	SLOT(clickhouse_path, "CLICKHOUSE_PATH"),
	SLOT(clickhouse_chdb_library, "CHDB_LIBRARY"),
	SLOT(snowsql_account, "SNOWSQL_ACCOUNT"),
	SLOT(snowsql_database, "SNOWSQL_DATABASE"),
	SLOT(snowsql_schema, "SNOWSQL_SCHEMA"),
	SLOT(snowsql_warehouse, "SNOWSQL_WAREHOUSE"),
	SLOT(snowsql_user, "SNOWSQL_USER"),
	SLOT(snowsql_role, "SNOWSQL_ROLE"),
	SLOT(snowsql_pwd, "SNOWSQL_PWD"),
	SLOT(snowsql_host, "SNOWSQL_HOST"),
	SLOT(snowsql_port, "SNOWSQL_PORT"),
	SLOT(snowsql_protocol, "SNOWSQL_PROTOCOL"),
	SLOT(snowsql_private_key_path, "SNOWSQL_PRIVATE_KEY_PATH"),
	SLOT(snowsql_private_key_passphrase, "SNOWSQL_PRIVATE_KEY_PASSPHRASE"),
	SLOT(snowsql_authenticator, "SNOWSQL_AUTHENTICATOR"),
	SLOT(snowsql_token, "SNOWSQL_TOKEN"),
	SLOT(snowflake_names, "PGWAREHOUSE_SNOWFLAKE_NAMES"),
};
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static char **field(struct pgw_config *cfg, const struct key_slot *slot)
{
	return (char **)((char *)cfg + slot->offset);
}

static int scalar_value(const char *path, const struct pgw_ynode *v, const char *key, char **out, struct pgw_err *err)
{
	if (v->kind != PGW_Y_SCALAR)
		return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: %s must be a single value", path, v->line, key);
	free(*out);
	*out = v->plain_null ? NULL : pgw_strdup(v->value);
	return 0;
}

static int parse_max_records(struct pgw_config *cfg, const struct pgw_ynode *v, struct pgw_err *err)
{
	char *end = NULL;
	if (v->kind == PGW_Y_SCALAR && v->plain_null)
		return 0;
	if (v->kind == PGW_Y_SCALAR) {
		errno = 0;
		long long n = strtoll(v->value, &end, 10);
		if (!errno && end != v->value && !*end && n >= 0) {
			cfg->max_records = n;
			return 0;
		}
	}
	return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: max_records must be a whole number >= 0", cfg->path, v->line);
}

static int parse_stanza(struct pgw_config *cfg, const struct pgw_ynode *map, const struct key_slot *slots,
			size_t nslots, const char *stanza, struct pgw_err *err)
{
	if (map->kind == PGW_Y_SCALAR && map->plain_null)
		return 0;
	if (map->kind != PGW_Y_MAP)
		return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: `%s` must be a mapping of settings", cfg->path,
				   map->line, stanza);
	for (int i = 0; i < map->n; i++) {
		const char *key = map->keys[i]->value ? map->keys[i]->value : "";
		if (!strcmp(key, "snowsql_password")) /* the Python pgwarehouse's name for
							 snowsql_pwd */
			key = "snowsql_pwd";
		const struct key_slot *slot = NULL;
		for (size_t k = 0; k < nslots; k++)
			if (!strcmp(slots[k].key, key))
				slot = &slots[k];
		if (slot) {
			if (scalar_value(cfg->path, map->items[i], key, field(cfg, slot), err) < 0)
				return -1;
		} else if (!strcmp(key, "max_records")) {
			if (parse_max_records(cfg, map->items[i], err) < 0)
				return -1;
		} else {
			return pgw_err_set(err, PGW_ERR_CONFIG,
					   "%s:%d: unknown setting `%s` in `%s`; see pgwarehouse --help", cfg->path,
					   map->keys[i]->line, key, stanza);
		}
	}
	return 0;
}

int pgw_weekday_parse(const char *s)
{
	static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	char low[16];
	size_t n = strlen(s);
	if (n < 3 || n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	static const char *const full[] = {"sunday",   "monday", "tuesday", "wednesday",
					   "thursday", "friday", "saturday"};
	for (int d = 0; d < 7; d++)
		if (!strncmp(low, names[d], 3) && !strncmp(low, full[d], n))
			return d;
	return -1;
}

bool pgw_config_true(const char *s)
{
	if (!s)
		return false;
	return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1");
}

static bool pgw_config_false(const char *s)
{
	return s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"));
}

/* One element of `reload:`: a day name, a day of the month, or a range of days
 * "1-7". */
static int parse_reload_item(struct pgw_table_conf *t, const char *path, const struct pgw_ynode *v, struct pgw_err *err)
{
	int d = pgw_weekday_parse(v->value);
	if (d >= 0) {
		t->weekdays |= 1u << d;
		return 0;
	}
	int lo, hi;
	char tail;
	int n = sscanf(v->value, "%d-%d%c", &lo, &hi, &tail);
	if (n == 1 && sscanf(v->value, "%d%c", &lo, &tail) == 1)
		hi = lo;
	else if (n != 2)
		lo = hi = 0;
	if (lo < 1 || hi > 31 || lo > hi)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "%s:%d: reload: `%s` is not true, a day name (sun..sat) "
				   "or a day of the month (1-31)",
				   path, v->line, v->value);
	for (int i = lo; i <= hi; i++)
		t->monthdays |= 1u << i;
	return 0;
}

static int parse_reload(struct pgw_table_conf *t, const char *path, const struct pgw_ynode *v, struct pgw_err *err)
{
	if (v->kind == PGW_Y_MAP)
		return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: reload must be true, a list of days or a day number",
				   path, v->line);
	if (v->kind == PGW_Y_SCALAR) {
		if (pgw_config_true(v->value)) { /* true, True, yes, on: as YAML 1.1 and the
						    Python tool read them */
			t->reload = PGW_RELOAD_ALWAYS;
			return 0;
		}
		if (!strcasecmp(v->value, "false") || !strcasecmp(v->value, "no") || !strcasecmp(v->value, "off") ||
		    v->plain_null) {
			t->reload = PGW_RELOAD_NEVER;
			return 0;
		}
		t->reload = PGW_RELOAD_ON_DAYS;
		return parse_reload_item(t, path, v, err);
	}
	t->reload = PGW_RELOAD_ON_DAYS;
	for (int i = 0; i < v->n; i++) {
		if (v->items[i]->kind != PGW_Y_SCALAR)
			return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: reload list items must be days", path,
					   v->items[i]->line);
		if (parse_reload_item(t, path, v->items[i], err) < 0)
			return -1;
	}
	return 0;
}

/* The options opts->keys[first..] of table t. */
static int parse_table_options(struct pgw_table_conf *t, const char *path, const struct pgw_ynode *opts, int first,
			       struct pgw_err *err)
{
	if (opts->kind == PGW_Y_SCALAR && opts->plain_null)
		return 0;
	if (opts->kind != PGW_Y_MAP)
		return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: options of table `%s` must be a mapping", path,
				   opts->line, t->name);
	for (int i = first; i < opts->n; i++) {
		const char *key = opts->keys[i]->value ? opts->keys[i]->value : "";
		const struct pgw_ynode *v = opts->items[i];
		if (!strcmp(key, "reload")) {
			if (parse_reload(t, path, v, err) < 0)
				return -1;
		} else if (!strcmp(key, "skip") && v->kind == PGW_Y_SCALAR) {
			t->skip = pgw_config_true(v->value);
		} else if (!strcmp(key, "last_modified") && v->kind == PGW_Y_SCALAR && !v->plain_null) {
			free(t->last_modified);
			t->last_modified = pgw_strdup(v->value);
		} else if (!strcmp(key, "cdc") && v->kind == PGW_Y_SCALAR) {
			t->cdc = pgw_config_true(v->value);
		} else if (!strcmp(key, "deletes") && v->kind == PGW_Y_SCALAR) {
			t->deletes = pgw_config_true(v->value);
		} else if (!strcmp(key, "key_check") && v->kind == PGW_Y_SCALAR) {
			t->key_check = pgw_config_true(v->value);
		} else {
			return pgw_err_set(err, PGW_ERR_CONFIG,
					   "%s:%d: unknown or invalid option `%s` for table `%s` "
					   "(known: reload, "
					   "last_modified, skip, cdc, deletes, key_check)",
					   path, opts->keys[i]->line, key, t->name);
		}
	}
	return 0;
}

/* The Python pgwarehouse's form, options at the name's indent: `- users:` then
 * `  reload: true`, which YAML reads as one mapping {users: null, reload:
 * true}. */
static bool flat_entry(const struct pgw_ynode *item)
{
	const struct pgw_ynode *first = item->items[0];
	return first->kind == PGW_Y_SCALAR && first->plain_null;
}

static int parse_tables(struct pgw_config *cfg, const struct pgw_ynode *seq, struct pgw_err *err)
{
	if (seq->kind == PGW_Y_SCALAR && seq->plain_null)
		return 0;
	if (seq->kind != PGW_Y_SEQ)
		return pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: `tables` must be a list (- name)", cfg->path,
				   seq->line);
	cfg->has_tables = true;
	cfg->tables = pgw_calloc((size_t)seq->n, sizeof(*cfg->tables));
	for (int i = 0; i < seq->n; i++) {
		const struct pgw_ynode *item = seq->items[i];
		struct pgw_table_conf *t = &cfg->tables[cfg->ntables++];
		t->line = item->line;
		t->cdc = -1;
		t->deletes = -1;
		t->key_check = -1;
		if (item->kind == PGW_Y_SCALAR && !item->plain_null) {
			t->name = pgw_strdup(item->value);
			continue;
		}
		if (item->kind != PGW_Y_MAP || item->keys[0]->kind != PGW_Y_SCALAR ||
		    (item->n > 1 && !flat_entry(item)))
			return pgw_err_set(err, PGW_ERR_CONFIG,
					   "%s:%d: a table entry is a name, or `name:` followed by its options",
					   cfg->path, item->line);
		t->name = pgw_strdup(item->keys[0]->value);
		if (item->n > 1)
			pgw_info("%s:%d: options of table `%s` are at the same indent as its "
				 "name, as the Python "
				 "pgwarehouse read them; indent them under the name",
				 cfg->path, item->line, t->name);
		if (item->n > 1 ? parse_table_options(t, cfg->path, item, 1, err) < 0
				: parse_table_options(t, cfg->path, item->items[0], 0, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_root(struct pgw_config *cfg, const struct pgw_ynode *root, struct pgw_err *err)
{
	if (root->kind != PGW_Y_MAP)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "%s:%d: expected the stanzas postgres:, warehouse:, tables:", cfg->path, root->line);
	for (int i = 0; i < root->n; i++) {
		const char *key = root->keys[i]->value ? root->keys[i]->value : "";
		const struct pgw_ynode *v = root->items[i];
		int rc;
		if (!strcmp(key, "postgres"))
			rc = parse_stanza(cfg, v, postgres_keys, NKEYS(postgres_keys), key, err);
		else if (!strcmp(key, "warehouse"))
			rc = parse_stanza(cfg, v, warehouse_keys, NKEYS(warehouse_keys), key, err);
		else if (!strcmp(key, "tables"))
			rc = parse_tables(cfg, v, err);
		else if (!strcmp(key, "max_records"))
			rc = parse_max_records(cfg, v, err);
		else if (!strcmp(key, "jobs"))
			rc = scalar_value(cfg->path, v, key, &cfg->jobs_text, err);
		else if (!strcmp(key, "cdc"))
			rc = scalar_value(cfg->path, v, key, &cfg->cdc_text, err);
		else if (!strcmp(key, "deletes"))
			rc = scalar_value(cfg->path, v, key, &cfg->deletes_text, err);
		else
			rc = pgw_err_set(err, PGW_ERR_CONFIG,
					 "%s:%d: unknown stanza `%s` (expected postgres, "
					 "warehouse, tables, max_records, jobs, cdc, deletes)",
					 cfg->path, root->keys[i]->line, key);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int read_file(const char *path, char **text, size_t *len, struct pgw_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pgw_err_set(err, PGW_ERR_CONFIG, "cannot read config file %s: %s", path, strerror(errno));
	struct pgw_buf b;
	pgw_buf_init(&b);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pgw_buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	*text = pgw_buf_steal(&b);
	return 0;
}

static int load_file(struct pgw_config *cfg, bool required, struct pgw_err *err)
{
	char *text;
	size_t len;
	FILE *probe = fopen(cfg->path, "rb");
	if (!probe) {
		if (errno == ENOENT && !required)
			return 0;
		return pgw_err_set(err, PGW_ERR_CONFIG, "cannot read config file %s: %s%s", cfg->path, strerror(errno),
				   errno == ENOENT ? "; create one with `pgwarehouse init`" : "");
	}
	fclose(probe);
	if (read_file(cfg->path, &text, &len, err) < 0)
		return -1;
	cfg->file_found = true;
	struct pgw_ynode *root = pgw_yaml_parse(cfg->path, text, len, err);
	free(text);
	if (!root)
		return -1;
	int rc = parse_root(cfg, root, err);
	pgw_ynode_free(root);
	return rc;
}

static void env_fallbacks(struct pgw_config *cfg)
{
	const struct key_slot *lists[] = {postgres_keys, warehouse_keys};
	size_t counts[] = {NKEYS(postgres_keys), NKEYS(warehouse_keys)};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++) {
			char **f = field(cfg, &lists[l][i]);
			const char *v = getenv(lists[l][i].env);
			if (!*f && v && *v)
				*f = pgw_strdup(v);
		}
	/* the name the Python pgwarehouse's code read, besides the CLICKHOUSE_PWD of
	 * its README */
	const char *chpw = getenv("CLICKHOUSE_PASSWORD");
	if (!cfg->clickhouse_password && chpw && *chpw)
		cfg->clickhouse_password = pgw_strdup(chpw);
	if (!cfg->pgschema)
		cfg->pgschema = pgw_strdup("public");
	if (!cfg->duckdb_path)
		cfg->duckdb_path = pgw_strdup("duck.db");
	if (!cfg->duckdb_memory_limit)
		cfg->duckdb_memory_limit = pgw_strdup("64MB");
	if (!cfg->duckdb_threads)
		cfg->duckdb_threads = pgw_strdup("1");
	if (!cfg->backend)
		cfg->backend = pgw_strdup(cfg->clickhouse_host	 ? "clickhouse"
					  : cfg->snowsql_account ? "snowflake"
								 : "duckdb");
}

/* "512MB", "2GB", "1000000" (bytes). */
int pgw_parse_size(const char *s, long long *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	static const struct {
		const char *unit;
		double mul;
	} units[] = {{"", 1},	   {"B", 1},	    {"KB", 1e3},	{"MB", 1e6},	      {"GB", 1e9},
		     {"TB", 1e12}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < NKEYS(units); i++)
		if (!strcasecmp(end, units[i].unit)) {
			*out = (long long)(v * units[i].mul);
			return 0;
		}
	return -1;
}

static int parse_count(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parallelism settings; `jobs` defaults to the number of cores, at most 4. */
static int parse_parallel(struct pgw_config *cfg, const struct pgw_cli_overrides *cli, struct pgw_err *err)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->jobs = cores < 1 ? 1 : cores > 4 ? 4 : (int)cores;
	cfg->copy_streams = 2;
	cfg->copy_streams_min_bytes = 256LL * 1000 * 1000;
	const char *jobs = cli->jobs ? cli->jobs : cfg->jobs_text ? cfg->jobs_text : getenv("PGWAREHOUSE_JOBS");
	if (jobs && !*jobs)
		jobs = NULL;
	if (jobs && parse_count(jobs, 1, 64, &cfg->jobs) < 0)
		return pgw_err_set(err, PGW_ERR_CONFIG, "jobs must be a whole number from 1 to 64, not `%s`", jobs);
	const char *streams = cli->copy_streams ? cli->copy_streams : cfg->copy_streams_text;
	if (streams && parse_count(streams, 1, 16, &cfg->copy_streams) < 0)
		return pgw_err_set(err, PGW_ERR_CONFIG, "copy_streams must be a whole number from 1 to 16, not `%s`",
				   streams);
	if (cfg->copy_streams_min_size_text &&
	    pgw_parse_size(cfg->copy_streams_min_size_text, &cfg->copy_streams_min_bytes) < 0)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "copy_streams_min_size must be a size like 256MB or 2GB, not `%s`",
				   cfg->copy_streams_min_size_text);
	return 0;
}

/* cdc (or PGWAREHOUSE_CDC), and the slot and publication names with their
 * defaults */
static int check_cdc(struct pgw_config *cfg, struct pgw_err *err)
{
	const char *cdc = cfg->cdc_text ? cfg->cdc_text : getenv("PGWAREHOUSE_CDC");
	if (cdc && *cdc) {
		if (!pgw_config_true(cdc) && !pgw_config_false(cdc))
			return pgw_err_set(err, PGW_ERR_CONFIG, "cdc is true or false, not `%s`", cdc);
		cfg->cdc = pgw_config_true(cdc);
	}
	if (cfg->deletes_text) {
		if (!pgw_config_true(cfg->deletes_text) && !pgw_config_false(cfg->deletes_text))
			return pgw_err_set(err, PGW_ERR_CONFIG, "deletes is true or false, not `%s`",
					   cfg->deletes_text);
		cfg->deletes = pgw_config_true(cfg->deletes_text);
	}
	if (!cfg->replication_slot)
		cfg->replication_slot = pgw_strdup("pgwarehouse");
	if (!cfg->publication)
		cfg->publication = pgw_strdup("pgwarehouse");
	size_t n = strlen(cfg->replication_slot);
	if (n == 0 || n > 63 || strspn(cfg->replication_slot, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "replication_slot `%s`: PostgreSQL takes 1 to 63 "
				   "lower-case letters, digits or '_'",
				   cfg->replication_slot);
	cfg->max_slot_lag_bytes = 10LL * 1000 * 1000 * 1000;
	if (cfg->max_slot_lag_text && pgw_parse_size(cfg->max_slot_lag_text, &cfg->max_slot_lag_bytes) < 0)
		return pgw_err_set(err, PGW_ERR_CONFIG, "max_slot_lag must be a size like 500MB or 10GB, not `%s`",
				   cfg->max_slot_lag_text);
	return 0;
}

bool pgw_table_cdc(const struct pgw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->ntables; i++)
		if (!strcmp(cfg->tables[i].name, name) && cfg->tables[i].cdc >= 0)
			return cfg->tables[i].cdc == 1;
	return cfg->cdc;
}

bool pgw_table_deletes(const struct pgw_config *cfg, const char *name)
{
	const struct pgw_table_conf *t = pgw_config_table(cfg, name);
	return t && t->deletes >= 0 ? t->deletes == 1 : cfg->deletes;
}

int pgw_table_key_check(const struct pgw_config *cfg, const char *name, bool new_records)
{
	const struct pgw_table_conf *t = pgw_config_table(cfg, name);
	if (pgw_table_deletes(cfg, name))
		return 1;
	return t && t->key_check >= 0 ? t->key_check : new_records ? -1 : 0;
}

int pgw_config_load(struct pgw_config *cfg, const struct pgw_cli_overrides *cli, struct pgw_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	if (pgw_dotenv_load(".env", err) < 0)
		return -1;
	cfg->path = pgw_strdup(cli->config_path ? cli->config_path : DEFAULT_CONFIG);
	if (load_file(cfg, cli->config_path != NULL, err) < 0)
		return -1;
	if (cli->backend) {
		free(cfg->backend);
		cfg->backend = pgw_strdup(cli->backend);
	}
	env_fallbacks(cfg);
	cfg->data_dir = pgw_strdup(cli->data_dir ? cli->data_dir : "pgw_data");
	for (char *p = cfg->backend; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (cfg->snowflake_names && strcasecmp(cfg->snowflake_names, "upper") &&
	    strcasecmp(cfg->snowflake_names, "exact"))
		return pgw_err_set(err, PGW_ERR_CONFIG, "snowflake_names is upper or exact, not `%s`",
				   cfg->snowflake_names);
	if (check_cdc(cfg, err) < 0)
		return -1;
	if (strcmp(cfg->backend, "duckdb") && strcmp(cfg->backend, "clickhouse") && strcmp(cfg->backend, "snowflake"))
		return pgw_err_set(err, PGW_ERR_CONFIG, "unknown backend `%s`; use duckdb, clickhouse or snowflake",
				   cfg->backend);
	return parse_parallel(cfg, cli, err);
}

void pgw_config_cleanup(struct pgw_config *cfg)
{
	const struct key_slot *lists[] = {postgres_keys, warehouse_keys};
	size_t counts[] = {NKEYS(postgres_keys), NKEYS(warehouse_keys)};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++)
			free(*field(cfg, &lists[l][i]));
	for (int i = 0; i < cfg->ntables; i++) {
		free(cfg->tables[i].name);
		free(cfg->tables[i].last_modified);
	}
	free(cfg->tables);
	free(cfg->jobs_text);
	free(cfg->cdc_text);
	free(cfg->deletes_text);
	free(cfg->path);
	free(cfg->data_dir);
	memset(cfg, 0, sizeof(*cfg));
}

bool pgw_table_reload_due(const struct pgw_table_conf *t, time_t now)
{
	if (!t || t->reload == PGW_RELOAD_NEVER)
		return false;
	if (t->reload == PGW_RELOAD_ALWAYS)
		return true;
	struct tm tm;
	localtime_r(&now, &tm);
	return (t->weekdays & (1u << tm.tm_wday)) || (t->monthdays & (1u << tm.tm_mday));
}

const struct pgw_table_conf *pgw_config_table(const struct pgw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->ntables; i++)
		if (!strcmp(cfg->tables[i].name, name))
			return &cfg->tables[i];
	return NULL;
}
