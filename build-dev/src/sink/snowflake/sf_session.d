build-dev/src/sink/snowflake/sf_session.o: \
 src/sink/snowflake/sf_session.c src/sink/snowflake/sf_session.h \
 src/config/config.h src/core/err.h src/core/buf.h src/core/log.h \
 src/net/http.h src/core/version.h src/sink/snowflake/sf_jwt.h
src/sink/snowflake/sf_session.h:
src/config/config.h:
src/core/err.h:
src/core/buf.h:
src/core/log.h:
src/net/http.h:
src/core/version.h:
src/sink/snowflake/sf_jwt.h:
