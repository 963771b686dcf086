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

/* pgw_pghash(VARCHAR) -> BIGINT: PostgreSQL's hashtextextended(text, 0) (verify's row hash when
 * the warehouse is DuckDB; see core/pghash.h). DuckDB hands a C function flat vectors. */
static void pghash_fn(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output)
{
	(void)info;
	idx_t n = duckdb_data_chunk_get_size(input);
	duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
	duckdb_string_t *text = duckdb_vector_get_data(in);
	uint64_t *valid = duckdb_vector_get_validity(in);
	int64_t *out = duckdb_vector_get_data(output);
	if (valid)
		duckdb_vector_ensure_validity_writable(output);
	uint64_t *out_valid = duckdb_vector_get_validity(output);
	for (idx_t r = 0; r < n; r++) {
		if (valid && !duckdb_validity_row_is_valid(valid, r)) {
			duckdb_validity_set_row_invalid(out_valid, r);
			continue;
		}
		out[r] = (int64_t)pgw_pghash(duckdb_string_t_data(&text[r]), duckdb_string_t_length(text[r]));
	}
}

int pgw_duck_register_pghash(duckdb_connection con)
{
	duckdb_scalar_function f = duckdb_create_scalar_function();
	duckdb_logical_type varchar = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
	duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
	duckdb_scalar_function_set_name(f, "pgw_pghash");
	duckdb_scalar_function_add_parameter(f, varchar);
	duckdb_scalar_function_set_return_type(f, bigint);
	duckdb_scalar_function_set_function(f, pghash_fn);
	duckdb_state rc = duckdb_register_scalar_function(con, f);
	duckdb_destroy_logical_type(&varchar);
	duckdb_destroy_logical_type(&bigint);
	duckdb_destroy_scalar_function(&f);
	return rc == DuckDBSuccess ? 0 : -1;
}
