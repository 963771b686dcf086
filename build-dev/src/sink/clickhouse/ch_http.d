build-dev/src/sink/clickhouse/ch_http.o: src/sink/clickhouse/ch_http.c \
 src/core/log.h src/net/http.h src/core/buf.h src/core/err.h \
 src/sink/clickhouse/ch_internal.h src/sink/sink.h src/batch/batch.h \
 src/config/config.h src/source/pg.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h
src/core/log.h:
src/net/http.h:
src/core/buf.h:
src/core/err.h:
src/sink/clickhouse/ch_internal.h:
src/sink/sink.h:
src/batch/batch.h:
src/config/config.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
