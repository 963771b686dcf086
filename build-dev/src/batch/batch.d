build-dev/src/batch/batch.o: src/batch/batch.c src/batch/batch.h \
 src/core/buf.h
src/batch/batch.h:
src/core/buf.h:
