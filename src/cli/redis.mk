# Redis Streams (configure --with-redis): `cfgpool run --source/--sink`, `cfgpool feed`,
# `cfgpool collect`, their test program and benchmark. Included from Makefile.am.
cfgpool_SOURCES += src/cli/run.h
if HAVE_REDIS
cfgpool_SOURCES += src/cli/redis.c src/cli/redis.h src/cli/stream.c src/cli/feed.c src/cli/collect.c
cfgpool_CFLAGS += $(HIREDIS_CFLAGS)
cfgpool_LDADD += $(HIREDIS_LIBS)
endif
EXTRA_DIST += src/cli/redis.mk
