build-dev/src/core/progress.o: src/core/progress.c src/core/progress.h \
 src/core/buf.h src/core/log.h
src/core/progress.h:
src/core/buf.h:
src/core/log.h:
