# pgwarehouse: `make` builds build/pgwarehouse, `make test` runs every test (plain and under
# ASan+UBSan), `make demo` runs the main job end to end. scripts/deps.sh installs what is missing.
PREFIX ?= /usr/local
DEPS ?= $(CURDIR)/deps
BUILD ?= build
CC ?= cc
# The sanitizer runtimes linked in statically: GCC's shared libubsan carries its own 6 MB copy of
# the sanitizers' common globals, which LeakSanitizer scans at every exit (0.1 -> 0.08 s of CPU for
# `pgwarehouse --help`, ~0.02 s of every run of the sanitizer pass; reports are unchanged)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	-static-libasan -static-libubsan

PKGS = libpq yaml-0.1 zlib libcurl libcrypto jansson
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	-Isrc -I$(DEPS)/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
OPT ?= -O2
# libduckdb.so is not linked: the DuckDB sink loads it when it opens (src/sink/duckdb/duckdb_api.h),
# found through these run paths
# pwrite is exported: libduckdb's calls must reach the one in src/sink/duckdb/duckdb_undo.c
LDLIBS_BASE = -pthread -Wl,-rpath,'$$ORIGIN/../lib/pgwarehouse' -Wl,-rpath,$(DEPS)/lib -Wl,--export-dynamic-symbol=pwrite \
	$(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpq -lyaml -lz -lcurl -lcrypto -ljansson) -ldl -lm

SRC = $(wildcard src/core/*.c src/config/*.c src/batch/*.c src/source/*.c src/source/replication/*.c src/sink/*.c \
	src/sink/duckdb/*.c src/sink/clickhouse/*.c src/sink/snowflake/*.c src/net/*.c src/pipeline/*.c)
MAIN_SRC = $(wildcard src/cli/*.c)
OBJ = $(SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/*.c)
TOOL_SRC = tests/tools/duckq.c tests/tools/chdbq.c tests/tools/sfq.c tests/tools/pgrepl.c tests/tools/pgsh.c tests/tools/serve.c

all: $(BUILD)/pgwarehouse

$(DEPS)/.ok: scripts/deps.sh
	PGW_DEPS_DIR=$(DEPS) bash scripts/deps.sh
	touch $@

deps: $(DEPS)/.ok

$(DEPS)/.ok-test: scripts/deps.sh $(DEPS)/.ok
	PGW_DEPS_DIR=$(DEPS) bash scripts/deps.sh --test
	touch $@

$(BUILD)/%.o: %.c $(DEPS)/.ok
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

$(BUILD)/pgwarehouse: $(OBJ) $(MAIN_OBJ)
	@echo "  LD  $@"
	@$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE)
	@ln -sf pgwarehouse $(BUILD)/pgwh

$(BUILD)/unit_tests: $(OBJ) $(UNIT_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE) -lcmocka

$(BUILD)/duckq: $(BUILD)/tests/tools/duckq.o $(BUILD)/tests/tools/serve.o $(OBJ)
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/chdbq: $(BUILD)/tests/tools/chdbq.o $(BUILD)/tests/tools/serve.o $(OBJ)
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/sfq: $(BUILD)/tests/tools/sfq.o $(OBJ)
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/pgrepl: $(BUILD)/tests/tools/pgrepl.o $(OBJ)
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_BASE)

# libpq only: it starts once per test script
$(BUILD)/pgsh: $(BUILD)/tests/tools/pgsh.o
	$(CC) $(EXTRA_CFLAGS) -o $@ $^ -lpq

build-all: $(BUILD)/pgwarehouse $(BUILD)/unit_tests $(BUILD)/duckq $(BUILD)/chdbq $(BUILD)/sfq $(BUILD)/pgrepl $(BUILD)/pgsh

# The full suite, plainly and under AddressSanitizer + UndefinedBehaviorSanitizer, at once. The
# test-only dependencies download while both builds compile.
test: deps
	$(MAKE) -j3 $(DEPS)/.ok-test test-builds
	bash tests/run-passes.sh  # the passes at once; chDB cannot load under ASan

test-builds:
	$(MAKE) build-all
	$(MAKE) build-all BUILD=build-asan OPT=-O1 EXTRA_CFLAGS="$(SAN_FLAGS)"

demo: deps all $(BUILD)/duckq
	bash scripts/demo.sh $(BUILD)

bench: deps all
	bash bench/reload_bench.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pgwarehouse
	install -m 755 $(BUILD)/pgwarehouse $(DESTDIR)$(PREFIX)/bin/pgwarehouse
	ln -sf pgwarehouse $(DESTDIR)$(PREFIX)/bin/pgwh
	install -m 644 $(DEPS)/lib/libduckdb.so $(DESTDIR)$(PREFIX)/lib/pgwarehouse/libduckdb.so

format:
	clang-format -i $(SRC) $(MAIN_SRC) $(UNIT_SRC) $(TOOL_SRC) $(wildcard src/*/*.h src/sink/*/*.h)

clean:
	rm -rf build build-asan

.PHONY: all deps build-all test test-builds demo bench install format clean
