/* libduckdb.so, loaded with dlopen when the DuckDB sink first opens (pgw_duckdb_load) rather than
 * linked: loading and relocating the library costs every process ~30-55 ms of CPU, which runs on
 * ClickHouse or Snowflake, `list`, `check` and the like have no use for, and without it they run
 * where libduckdb.so is not installed. The functions pgwarehouse calls are reached through
 * pgw_duckdb_api under their own names (the defines below), so the calling code reads as DuckDB's
 * C API does. A function newly used must be added to PGW_DUCKDB_FUNCTIONS. */
#ifndef PGW_DUCKDB_API_H
#define PGW_DUCKDB_API_H

#include <duckdb.h>

#include "core/err.h"

#define PGW_DUCKDB_FUNCTIONS(X)                    \
	X(duckdb_add_scalar_function_to_set)       \
	X(duckdb_append_data_chunk)                \
	X(duckdb_appender_close)                   \
	X(duckdb_appender_column_count)            \
	X(duckdb_appender_column_type)             \
	X(duckdb_appender_create)                  \
	X(duckdb_appender_destroy)                 \
	X(duckdb_appender_error)                   \
	X(duckdb_appender_flush)                   \
	X(duckdb_bind_varchar)                     \
	X(duckdb_close)                            \
	X(duckdb_column_count)                     \
	X(duckdb_column_type)                      \
	X(duckdb_connect)                          \
	X(duckdb_create_config)                    \
	X(duckdb_create_data_chunk)                \
	X(duckdb_create_logical_type)              \
	X(duckdb_create_scalar_function)           \
	X(duckdb_create_scalar_function_set)       \
	X(duckdb_create_time_tz)                   \
	X(duckdb_data_chunk_get_size)              \
	X(duckdb_data_chunk_get_vector)            \
	X(duckdb_data_chunk_reset)                 \
	X(duckdb_data_chunk_set_size)              \
	X(duckdb_decimal_internal_type)            \
	X(duckdb_destroy_config)                   \
	X(duckdb_destroy_data_chunk)               \
	X(duckdb_destroy_logical_type)             \
	X(duckdb_destroy_prepare)                  \
	X(duckdb_destroy_result)                   \
	X(duckdb_destroy_scalar_function)          \
	X(duckdb_destroy_scalar_function_set)      \
	X(duckdb_disconnect)                       \
	X(duckdb_enum_internal_type)               \
	X(duckdb_execute_prepared)                 \
	X(duckdb_fetch_chunk)                      \
	X(duckdb_free)                             \
	X(duckdb_library_version)                  \
	X(duckdb_list_type_child_type)             \
	X(duckdb_list_vector_get_child)            \
	X(duckdb_list_vector_reserve)              \
	X(duckdb_list_vector_set_size)             \
	X(duckdb_open)                             \
	X(duckdb_open_ext)                         \
	X(duckdb_prepare)                          \
	X(duckdb_prepare_error)                    \
	X(duckdb_query)                            \
	X(duckdb_register_scalar_function_set)     \
	X(duckdb_result_error)                     \
	X(duckdb_scalar_function_add_parameter)    \
	X(duckdb_scalar_function_get_extra_info)   \
	X(duckdb_scalar_function_set_extra_info)   \
	X(duckdb_scalar_function_set_function)     \
	X(duckdb_scalar_function_set_name)         \
	X(duckdb_scalar_function_set_return_type)  \
	X(duckdb_set_config)                       \
	X(duckdb_string_t_data)                    \
	X(duckdb_string_t_length)                  \
	X(duckdb_validity_row_is_valid)            \
	X(duckdb_validity_set_row_invalid)         \
	X(duckdb_validity_set_row_validity)        \
	X(duckdb_vector_assign_string_element_len) \
	X(duckdb_vector_ensure_validity_writable)  \
	X(duckdb_vector_get_data)                  \
	X(duckdb_vector_get_validity)

struct pgw_duckdb_api {
#define PGW_DUCKDB_SLOT(name) __typeof__(&name) name;
	PGW_DUCKDB_FUNCTIONS(PGW_DUCKDB_SLOT)
#undef PGW_DUCKDB_SLOT
};
extern struct pgw_duckdb_api pgw_duckdb_api;

/* Loads libduckdb.so once per process (the one beside the program, see the Makefile's rpath);
 * 0, or -1 with err naming the file and the fix. */
int pgw_duckdb_load(struct pgw_err *err);

#ifndef PGW_DUCKDB_API_LOADER /* the loader names the slots themselves */
#define duckdb_add_scalar_function_to_set (pgw_duckdb_api.duckdb_add_scalar_function_to_set)
#define duckdb_append_data_chunk (pgw_duckdb_api.duckdb_append_data_chunk)
#define duckdb_appender_close (pgw_duckdb_api.duckdb_appender_close)
#define duckdb_appender_column_count (pgw_duckdb_api.duckdb_appender_column_count)
#define duckdb_appender_column_type (pgw_duckdb_api.duckdb_appender_column_type)
#define duckdb_appender_create (pgw_duckdb_api.duckdb_appender_create)
#define duckdb_appender_destroy (pgw_duckdb_api.duckdb_appender_destroy)
#define duckdb_appender_error (pgw_duckdb_api.duckdb_appender_error)
#define duckdb_appender_flush (pgw_duckdb_api.duckdb_appender_flush)
#define duckdb_bind_varchar (pgw_duckdb_api.duckdb_bind_varchar)
#define duckdb_close (pgw_duckdb_api.duckdb_close)
#define duckdb_column_count (pgw_duckdb_api.duckdb_column_count)
#define duckdb_column_type (pgw_duckdb_api.duckdb_column_type)
#define duckdb_connect (pgw_duckdb_api.duckdb_connect)
#define duckdb_create_config (pgw_duckdb_api.duckdb_create_config)
#define duckdb_create_data_chunk (pgw_duckdb_api.duckdb_create_data_chunk)
#define duckdb_create_logical_type (pgw_duckdb_api.duckdb_create_logical_type)
#define duckdb_create_scalar_function (pgw_duckdb_api.duckdb_create_scalar_function)
#define duckdb_create_scalar_function_set (pgw_duckdb_api.duckdb_create_scalar_function_set)
#define duckdb_create_time_tz (pgw_duckdb_api.duckdb_create_time_tz)
#define duckdb_data_chunk_get_size (pgw_duckdb_api.duckdb_data_chunk_get_size)
#define duckdb_data_chunk_get_vector (pgw_duckdb_api.duckdb_data_chunk_get_vector)
#define duckdb_data_chunk_reset (pgw_duckdb_api.duckdb_data_chunk_reset)
#define duckdb_data_chunk_set_size (pgw_duckdb_api.duckdb_data_chunk_set_size)
#define duckdb_decimal_internal_type (pgw_duckdb_api.duckdb_decimal_internal_type)
#define duckdb_destroy_config (pgw_duckdb_api.duckdb_destroy_config)
#define duckdb_destroy_data_chunk (pgw_duckdb_api.duckdb_destroy_data_chunk)
#define duckdb_destroy_logical_type (pgw_duckdb_api.duckdb_destroy_logical_type)
#define duckdb_destroy_prepare (pgw_duckdb_api.duckdb_destroy_prepare)
#define duckdb_destroy_result (pgw_duckdb_api.duckdb_destroy_result)
#define duckdb_destroy_scalar_function (pgw_duckdb_api.duckdb_destroy_scalar_function)
#define duckdb_destroy_scalar_function_set (pgw_duckdb_api.duckdb_destroy_scalar_function_set)
#define duckdb_disconnect (pgw_duckdb_api.duckdb_disconnect)
#define duckdb_enum_internal_type (pgw_duckdb_api.duckdb_enum_internal_type)
#define duckdb_execute_prepared (pgw_duckdb_api.duckdb_execute_prepared)
#define duckdb_fetch_chunk (pgw_duckdb_api.duckdb_fetch_chunk)
#define duckdb_free (pgw_duckdb_api.duckdb_free)
#define duckdb_library_version (pgw_duckdb_api.duckdb_library_version)
#define duckdb_list_type_child_type (pgw_duckdb_api.duckdb_list_type_child_type)
#define duckdb_list_vector_get_child (pgw_duckdb_api.duckdb_list_vector_get_child)
#define duckdb_list_vector_reserve (pgw_duckdb_api.duckdb_list_vector_reserve)
#define duckdb_list_vector_set_size (pgw_duckdb_api.duckdb_list_vector_set_size)
#define duckdb_open (pgw_duckdb_api.duckdb_open)
#define duckdb_open_ext (pgw_duckdb_api.duckdb_open_ext)
#define duckdb_prepare (pgw_duckdb_api.duckdb_prepare)
#define duckdb_prepare_error (pgw_duckdb_api.duckdb_prepare_error)
#define duckdb_query (pgw_duckdb_api.duckdb_query)
#define duckdb_register_scalar_function_set (pgw_duckdb_api.duckdb_register_scalar_function_set)
#define duckdb_result_error (pgw_duckdb_api.duckdb_result_error)
#define duckdb_scalar_function_add_parameter (pgw_duckdb_api.duckdb_scalar_function_add_parameter)
#define duckdb_scalar_function_get_extra_info (pgw_duckdb_api.duckdb_scalar_function_get_extra_info)
#define duckdb_scalar_function_set_extra_info (pgw_duckdb_api.duckdb_scalar_function_set_extra_info)
#define duckdb_scalar_function_set_function (pgw_duckdb_api.duckdb_scalar_function_set_function)
#define duckdb_scalar_function_set_name (pgw_duckdb_api.duckdb_scalar_function_set_name)
#define duckdb_scalar_function_set_return_type (pgw_duckdb_api.duckdb_scalar_function_set_return_type)
#define duckdb_set_config (pgw_duckdb_api.duckdb_set_config)
#define duckdb_string_t_data (pgw_duckdb_api.duckdb_string_t_data)
#define duckdb_string_t_length (pgw_duckdb_api.duckdb_string_t_length)
#define duckdb_validity_row_is_valid (pgw_duckdb_api.duckdb_validity_row_is_valid)
#define duckdb_validity_set_row_invalid (pgw_duckdb_api.duckdb_validity_set_row_invalid)
#define duckdb_validity_set_row_validity (pgw_duckdb_api.duckdb_validity_set_row_validity)
#define duckdb_vector_assign_string_element_len (pgw_duckdb_api.duckdb_vector_assign_string_element_len)
#define duckdb_vector_ensure_validity_writable (pgw_duckdb_api.duckdb_vector_ensure_validity_writable)
#define duckdb_vector_get_data (pgw_duckdb_api.duckdb_vector_get_data)
#define duckdb_vector_get_validity (pgw_duckdb_api.duckdb_vector_get_validity)
#endif

#endif
