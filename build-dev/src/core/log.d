build-dev/src/core/log.o: src/core/log.c src/core/log.h src/core/buf.h
src/core/log.h:
src/core/buf.h:
