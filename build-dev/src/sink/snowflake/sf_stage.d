build-dev/src/sink/snowflake/sf_stage.o: src/sink/snowflake/sf_stage.c \
 src/core/log.h src/sink/snowflake/sf_jwt.h src/core/err.h \
 src/sink/snowflake/sf_s3.h src/core/buf.h \
 src/sink/snowflake/sf_session.h src/config/config.h
src/core/log.h:
src/sink/snowflake/sf_jwt.h:
src/core/err.h:
src/sink/snowflake/sf_s3.h:
src/core/buf.h:
src/sink/snowflake/sf_session.h:
src/config/config.h:
