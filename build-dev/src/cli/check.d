build-dev/src/cli/check.o: src/cli/check.c src/cli/commands.h \
 src/config/config.h src/core/err.h src/core/version.h src/core/log.h \
 src/pipeline/sync.h src/sink/sink.h src/batch/batch.h src/source/pg.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h src/core/buf.h
src/cli/commands.h:
src/config/config.h:
src/core/err.h:
src/core/version.h:
src/core/log.h:
src/pipeline/sync.h:
src/sink/sink.h:
src/batch/batch.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
src/core/buf.h:
