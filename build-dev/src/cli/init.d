build-dev/src/cli/init.o: src/cli/init.c src/cli/commands.h \
 src/config/config.h src/core/err.h src/core/version.h
src/cli/commands.h:
src/config/config.h:
src/core/err.h:
src/core/version.h:
