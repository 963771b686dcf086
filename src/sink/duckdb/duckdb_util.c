/* Running statements on DuckDB and reading small results as strings. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pghash.h"
#include "sink/duckdb/duckdb_internal.h"

int pgw_duck_exec(duckdb_connection con, const char *sql, struct pgw_err *err)
{
	duckdb_result res;
	pgw_debug("duckdb: %s", sql);
	int rc = 0;
	if (duckdb_query(con, sql, &res) != DuckDBSuccess)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: %s", duckdb_result_error(&res));
	duckdb_destroy_result(&res);
	return rc;
}

static void read_chunk(duckdb_data_chunk chunk, struct pgw_duck_rows *out)
{
	idx_t n = duckdb_data_chunk_get_size(chunk);
	out->cells = pgw_realloc(out->cells, sizeof(char *) * (size_t)(out->nrows + (int)n) * (size_t)out->ncols);
	for (int c = 0; c < out->ncols; c++) {
		duckdb_vector v = duckdb_data_chunk_get_vector(chunk, (idx_t)c);
		duckdb_string_t *data = duckdb_vector_get_data(v);
		uint64_t *valid = duckdb_vector_get_validity(v);
		for (idx_t r = 0; r < n; r++) {
			char **cell = &out->cells[(size_t)(out->nrows + (int)r) * (size_t)out->ncols + (size_t)c];
			if (valid && !duckdb_validity_row_is_valid(valid, r))
				*cell = NULL;
			else
				*cell = pgw_strndup(duckdb_string_t_data(&data[r]), duckdb_string_t_length(data[r]));
		}
	}
	out->nrows += (int)n;
}

int pgw_duck_select(duckdb_connection con, const char *sql, int nparams, const char *const *params,
		    struct pgw_duck_rows *out, struct pgw_err *err)
{
	duckdb_prepared_statement st = NULL;
	duckdb_result res;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	pgw_debug("duckdb: %s", sql);
	if (duckdb_prepare(con, sql, &st) != DuckDBSuccess) {
		pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: %s", duckdb_prepare_error(st));
		duckdb_destroy_prepare(&st);
		return -1;
	}
	for (int i = 0; i < nparams; i++)
		duckdb_bind_varchar(st, (idx_t)i + 1, params[i]);
	if (duckdb_execute_prepared(st, &res) != DuckDBSuccess) {
		pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: %s", duckdb_result_error(&res));
		goto out;
	}
	out->ncols = (int)duckdb_column_count(&res);
	for (int c = 0; c < out->ncols; c++)
		if (duckdb_column_type(&res, (idx_t)c) != DUCKDB_TYPE_VARCHAR) {
			pgw_err_set(err, PGW_ERR_INTERNAL, "DuckDB query column %d is not VARCHAR", c);
			goto out;
		}
	duckdb_data_chunk chunk;
	while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
		read_chunk(chunk, out);
		duckdb_destroy_data_chunk(&chunk);
	}
	rc = 0;
out:
	duckdb_destroy_result(&res);
	duckdb_destroy_prepare(&st);
	if (rc < 0)
		pgw_duck_rows_cleanup(out);
	return rc;
}

void pgw_duck_rows_cleanup(struct pgw_duck_rows *r)
{
	for (int i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

/* verify's row hash against DuckDB is PostgreSQL's own hash functions, chained (see
 * pipeline/verify.c): these compute them in DuckDB. DuckDB hands a C function flat vectors; a NULL
 * argument makes a NULL result. */

/* Marks out's rows NULL where either argument is; returns whether any is */
static bool nulls(idx_t n, duckdb_vector x, duckdb_vector seed, duckdb_vector out)
{
	uint64_t *vx = duckdb_vector_get_validity(x), *vs = duckdb_vector_get_validity(seed);
	if (!vx && !vs)
		return false;
	duckdb_vector_ensure_validity_writable(out);
	uint64_t *vo = duckdb_vector_get_validity(out);
	for (idx_t r = 0; r < n; r++)
		if ((vx && !duckdb_validity_row_is_valid(vx, r)) || (vs && !duckdb_validity_row_is_valid(vs, r)))
			duckdb_validity_set_row_invalid(vo, r);
	return true;
}

/* pgw_pghash(VARCHAR, BIGINT seed) -> BIGINT: hashtextextended(text, seed) */
static void text_hash_fn(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output)
{
	(void)info;
	idx_t n = duckdb_data_chunk_get_size(input);
	duckdb_vector x = duckdb_data_chunk_get_vector(input, 0), seed = duckdb_data_chunk_get_vector(input, 1);
	duckdb_string_t *text = duckdb_vector_get_data(x);
	const int64_t *sd = duckdb_vector_get_data(seed);
	int64_t *out = duckdb_vector_get_data(output);
	bool any = nulls(n, x, seed, output);
	uint64_t *vo = duckdb_vector_get_validity(output);
	for (idx_t r = 0; r < n; r++)
		if (!any || duckdb_validity_row_is_valid(vo, r))
			out[r] = (int64_t)pgw_pghash(duckdb_string_t_data(&text[r]), duckdb_string_t_length(text[r]),
						     (uint64_t)sd[r]);
}

/* The 64-bit value PostgreSQL hashes for x: a BIGINT or a TIME (microseconds since midnight) as
 * it is; a timestamp counts microseconds from 2000 there, and its infinities are the int64's
 * extremes (DuckDB's are INT64_MAX and -INT64_MAX) */
static int64_t pg_timestamp(int64_t x)
{
	return x == INT64_MAX ? INT64_MAX : x <= -INT64_MAX ? INT64_MIN : x - 946684800000000LL;
}

/* the extra info of the timestamps' overloads (any non-NULL pointer: the others have none) */
static char timestamps;

/* pgw_pghash_int8(BIGINT|TIME|TIMESTAMP|TIMESTAMPTZ, BIGINT seed) -> BIGINT: hashint8extended,
 * time_hash_extended, timestamp_hash_extended */
static void int8_hash_fn(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output)
{
	bool ts = duckdb_scalar_function_get_extra_info(info) == &timestamps;
	idx_t n = duckdb_data_chunk_get_size(input);
	duckdb_vector x = duckdb_data_chunk_get_vector(input, 0), seed = duckdb_data_chunk_get_vector(input, 1);
	const int64_t *v = duckdb_vector_get_data(x), *sd = duckdb_vector_get_data(seed);
	int64_t *out = duckdb_vector_get_data(output);
	bool any = nulls(n, x, seed, output);
	uint64_t *vo = duckdb_vector_get_validity(output);
	for (idx_t r = 0; r < n; r++)
		if (!any || duckdb_validity_row_is_valid(vo, r))
			out[r] = (int64_t)pgw_pghash_int8(ts ? pg_timestamp(v[r]) : v[r], (uint64_t)sd[r]);
}

/* Adds name(type, BIGINT) -> BIGINT to set */
static void add_hash(duckdb_scalar_function_set set, const char *name, duckdb_type type, duckdb_scalar_function_t fn)
{
	duckdb_scalar_function f = duckdb_create_scalar_function();
	duckdb_logical_type t = duckdb_create_logical_type(type);
	duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
	duckdb_scalar_function_set_name(f, name);
	duckdb_scalar_function_add_parameter(f, t);
	duckdb_scalar_function_add_parameter(f, bigint);
	duckdb_scalar_function_set_return_type(f, bigint);
	duckdb_scalar_function_set_function(f, fn);
	if (type == DUCKDB_TYPE_TIMESTAMP || type == DUCKDB_TYPE_TIMESTAMP_TZ)
		duckdb_scalar_function_set_extra_info(f, &timestamps, NULL);
	duckdb_add_scalar_function_to_set(set, f);
	duckdb_destroy_logical_type(&t);
	duckdb_destroy_logical_type(&bigint);
	duckdb_destroy_scalar_function(&f);
}

int pgw_duck_register_pghash(duckdb_connection con)
{
	duckdb_scalar_function_set text = duckdb_create_scalar_function_set("pgw_pghash");
	add_hash(text, "pgw_pghash", DUCKDB_TYPE_VARCHAR, text_hash_fn);
	duckdb_scalar_function_set ints = duckdb_create_scalar_function_set("pgw_pghash_int8");
	add_hash(ints, "pgw_pghash_int8", DUCKDB_TYPE_BIGINT, int8_hash_fn);
	add_hash(ints, "pgw_pghash_int8", DUCKDB_TYPE_TIME, int8_hash_fn);
	add_hash(ints, "pgw_pghash_int8", DUCKDB_TYPE_TIMESTAMP, int8_hash_fn);
	add_hash(ints, "pgw_pghash_int8", DUCKDB_TYPE_TIMESTAMP_TZ, int8_hash_fn);
	duckdb_state rc = duckdb_register_scalar_function_set(con, text);
	if (rc == DuckDBSuccess)
		rc = duckdb_register_scalar_function_set(con, ints);
	duckdb_destroy_scalar_function_set(&text);
	duckdb_destroy_scalar_function_set(&ints);
	return rc == DuckDBSuccess ? 0 : -1;
}
