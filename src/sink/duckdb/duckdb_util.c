/* Running statements on DuckDB and reading small results as strings. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
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
