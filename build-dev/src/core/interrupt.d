build-dev/src/core/interrupt.o: src/core/interrupt.c src/core/interrupt.h \
 src/core/log.h
src/core/interrupt.h:
src/core/log.h:
