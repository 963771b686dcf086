build-dev/src/pipeline/csv.o: src/pipeline/csv.c src/pipeline/csv.h \
 src/core/buf.h src/core/err.h
src/pipeline/csv.h:
src/core/buf.h:
src/core/err.h:
