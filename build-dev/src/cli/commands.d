build-dev/src/cli/commands.o: src/cli/commands.c src/cli/commands.h \
 src/config/config.h src/core/err.h src/core/version.h \
 src/core/interrupt.h src/core/log.h src/core/progress.h \
 src/pipeline/extract.h src/pipeline/sync.h src/sink/sink.h \
 src/batch/batch.h src/source/pg.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h src/core/buf.h \
 src/pipeline/jobs.h src/pipeline/runlog.h
src/cli/commands.h:
src/config/config.h:
src/core/err.h:
src/core/version.h:
src/core/interrupt.h:
src/core/log.h:
src/core/progress.h:
src/pipeline/extract.h:
src/pipeline/sync.h:
src/sink/sink.h:
src/batch/batch.h:
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
src/core/buf.h:
src/pipeline/jobs.h:
src/pipeline/runlog.h:
