build-dev/src/config/yamltree.o: src/config/yamltree.c \
 src/config/yamltree.h src/core/err.h src/core/buf.h
src/config/yamltree.h:
src/core/err.h:
src/core/buf.h:
