build-dev/src/config/dotenv.o: src/config/dotenv.c src/config/config.h \
 src/core/err.h src/core/buf.h
src/config/config.h:
src/core/err.h:
src/core/buf.h:
