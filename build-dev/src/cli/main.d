build-dev/src/cli/main.o: src/cli/main.c src/cli/commands.h \
 src/config/config.h src/core/err.h src/core/version.h \
 src/core/interrupt.h src/core/log.h
src/cli/commands.h:
src/config/config.h:
src/core/err.h:
src/core/version.h:
src/core/interrupt.h:
src/core/log.h:
