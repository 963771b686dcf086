build-dev/src/sink/snowflake/sf_types.o: src/sink/snowflake/sf_types.c \
 src/batch/format.h src/batch/batch.h src/core/buf.h \
 src/sink/snowflake/sf_internal.h src/sink/sink.h src/config/config.h \
 src/core/err.h src/source/pg.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h
src/batch/format.h:
src/batch/batch.h:
src/core/buf.h:
src/sink/snowflake/sf_internal.h:
src/sink/sink.h:
src/config/config.h:
src/core/err.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
