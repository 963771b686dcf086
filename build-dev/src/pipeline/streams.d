build-dev/src/pipeline/streams.o: src/pipeline/streams.c \
 src/pipeline/streams.h src/pipeline/sync.h src/config/config.h \
 src/core/err.h src/sink/sink.h src/batch/batch.h src/source/pg.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h src/core/buf.h src/core/log.h \
 src/core/progress.h
src/pipeline/streams.h:
src/pipeline/sync.h:
src/config/config.h:
src/core/err.h:
src/sink/sink.h:
src/batch/batch.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
src/core/buf.h:
src/core/log.h:
src/core/progress.h:
