/* Shared between the Snowflake sink's files. */
#ifndef PGW_SF_INTERNAL_H
#define PGW_SF_INTERNAL_H

#include "core/buf.h"
#include "sink/sink.h"

void pgw_sf_type_sql(struct pgw_buf *b, const struct pgw_typeinfo *ti);
/* VARIANT/ARRAY columns, loaded through PARSE_JSON */
bool pgw_sf_semistructured(enum pgw_type t);
/* Appends the batch's rows as CSV lines for COPY INTO (see sf_types.c). */
int pgw_sf_csv(struct pgw_buf *out, const struct pgw_batch *b, const struct pgw_table_def *def, struct pgw_err *err);

#endif
