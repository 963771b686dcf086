build-dev/src/source/pg.o: src/source/pg.c src/source/pg.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h src/batch/batch.h \
 src/config/config.h src/core/err.h src/core/buf.h src/core/interrupt.h \
 src/core/log.h
src/source/pg.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
src/batch/batch.h:
src/config/config.h:
src/core/err.h:
src/core/buf.h:
src/core/interrupt.h:
src/core/log.h:
