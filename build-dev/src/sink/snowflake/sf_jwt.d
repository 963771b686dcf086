build-dev/src/sink/snowflake/sf_jwt.o: src/sink/snowflake/sf_jwt.c \
 src/sink/snowflake/sf_jwt.h src/core/err.h src/core/buf.h
src/sink/snowflake/sf_jwt.h:
src/core/err.h:
src/core/buf.h:
