build-dev/src/net/http.o: src/net/http.c src/net/http.h src/core/buf.h \
 src/core/err.h src/core/interrupt.h src/core/log.h
src/net/http.h:
src/core/buf.h:
src/core/err.h:
src/core/interrupt.h:
src/core/log.h:
