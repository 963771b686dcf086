build-dev/src/sink/clickhouse/ch_chdb.o: src/sink/clickhouse/ch_chdb.c \
 src/core/log.h src/sink/clickhouse/ch_internal.h src/core/buf.h \
 src/sink/sink.h src/batch/batch.h src/config/config.h src/core/err.h \
 src/source/pg.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h
src/core/log.h:
src/sink/clickhouse/ch_internal.h:
src/core/buf.h:
src/sink/sink.h:
src/batch/batch.h:
src/config/config.h:
src/core/err.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
