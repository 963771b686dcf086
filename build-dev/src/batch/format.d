build-dev/src/batch/format.o: src/batch/format.c src/batch/format.h \
 src/batch/batch.h src/core/buf.h
src/batch/format.h:
src/batch/batch.h:
src/core/buf.h:
