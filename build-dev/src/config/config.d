build-dev/src/config/config.o: src/config/config.c src/config/config.h \
 src/core/err.h src/config/yamltree.h src/core/buf.h
src/config/config.h:
src/core/err.h:
src/config/yamltree.h:
src/core/buf.h:
