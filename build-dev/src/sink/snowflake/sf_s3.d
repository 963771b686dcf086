build-dev/src/sink/snowflake/sf_s3.o: src/sink/snowflake/sf_s3.c \
 src/sink/snowflake/sf_s3.h src/core/buf.h src/core/err.h src/core/log.h \
 src/net/http.h src/sink/snowflake/sf_jwt.h
src/sink/snowflake/sf_s3.h:
src/core/buf.h:
src/core/err.h:
src/core/log.h:
src/net/http.h:
src/sink/snowflake/sf_jwt.h:
