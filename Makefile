# iotc: one non-recursive GNU Makefile.
#
#   make                      release build of everything into $(BUILDDIR)
#   make test                 build and run every test; ends with "N passed, N failed"
#   make MODE=debug           -O0 -g3
#   make SANITIZE=address,undefined test
#   make CC=clang WERROR=1
#   make fuzz / fuzz-smoke    libFuzzer targets (clang), bounded smoke run
#   make install PREFIX=/opt/iotc  (DESTDIR, SYSCONFDIR: see "install" below)
#   make bench                benchmarks, print figures
#
# Sources are found by wildcard, so adding a file needs no edit here:
#   src/proto/*.c      pure protocol core         -> libiotc (and every program)
#   src/device/*.c     device client              -> libiotc
#   src/dtdl/*.c       DTDL importer (cJSON only)  -> libiotc_dtdl.a (server, simulator, fuzzers)
#   src/central/*/*.c  local IoT Central server    -> iotc-central (src/central/main.c holds main())
#   src/cli/*.c        operator CLI               -> iotc
#   src/sim/*.c        device simulator           -> iotc-sim
#   src/util/*.c       helpers of the programs (command-line options; libc only)
#                                                 -> libiotc_util.a, linked into every program
#                                                    and test, never into libiotc
#   examples/NAME/*.c  example programs           -> NAME with '_' turned into '-'
#                                                    (libiotc + libiotc_util)
#   tests/unit/test_*.c, tests/integration/test_*.c -> one cmocka binary each
#   fuzz/fuzz_*.c      one libFuzzer target each, corpus in fuzz/corpus/NAME/

VERSION   := 0.1.0
SOVERSION := 0
MODE      ?= release
SANITIZE  ?=
WERROR    ?= 0
PREFIX    ?= /usr/local
DESTDIR   ?=

ifeq ($(origin CC),default)
CC := cc
endif
CC_KIND := $(if $(findstring clang,$(notdir $(CC))),-clang,)
BUILDDIR ?= build/$(MODE)$(if $(SANITIZE),-san,)$(CC_KIND)
B := $(BUILDDIR)

PKG_CONFIG ?= pkg-config
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1))

PKGS_CORE    := openssl
PKGS_DEVICE  := libmosquitto openssl
PKGS_CENTRAL := libevent libevent_openssl libevent_pthreads openssl sqlite3 libcjson libcurl rdkafka
PKGS_CLI     := libcurl libcjson
PKGS_TEST    := cmocka

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wwrite-strings -Wformat=2 -Wundef -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(MODE),debug)
OPT := -O0 -g3
else
OPT := -O2 -g
endif

SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all,)

CPPFLAGS_ALL := -Iinclude -Isrc -D_DEFAULT_SOURCE -DIOTC_VERSION=\"$(VERSION)\" $(CPPFLAGS)
CFLAGS_ALL   := -std=c11 $(OPT) $(WARN) -fno-common -fPIC -fvisibility=hidden $(SAN_FLAGS) $(CFLAGS)
LDFLAGS_ALL  := $(SAN_FLAGS) $(LDFLAGS)

CORE_SRC    := $(sort $(wildcard src/proto/*.c))
DEVICE_SRC  := $(sort $(wildcard src/device/*.c))
DTDL_SRC    := $(sort $(wildcard src/dtdl/*.c))
CENTRAL_SRC := $(sort $(wildcard src/central/*.c src/central/*/*.c))
CENTRAL_MAIN := src/central/main.c
CLI_SRC     := $(sort $(wildcard src/cli/*.c))
SIM_SRC     := $(sort $(wildcard src/sim/*.c))
UTIL_SRC    := $(sort $(wildcard src/util/*.c))
EXAMPLES    := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard examples/*/*.c)))))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC   := $(sort $(wildcard tests/integration/test_*.c))
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
FUZZ_SRC    := $(sort $(wildcard fuzz/fuzz_*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

CORE_OBJ    := $(call obj,$(CORE_SRC))
DEVICE_OBJ  := $(call obj,$(DEVICE_SRC))
DTDL_OBJ    := $(call obj,$(DTDL_SRC))
CENTRAL_OBJ := $(call obj,$(filter-out $(CENTRAL_MAIN),$(CENTRAL_SRC)))
# The web UI (web/ + uPlot from node_modules) compiled into iotc-central: tools/embed-web.mjs.
WEB_GEN := $(B)/gen/web_assets.c
CENTRAL_OBJ += $(B)/obj/gen/web_assets.o
CLI_OBJ     := $(call obj,$(CLI_SRC))
UTIL_OBJ    := $(call obj,$(UTIL_SRC))
TESTLIB_OBJ := $(call obj,$(TESTLIB_SRC))

LIB_A    := $(B)/libiotc.a
LIB_SO   := $(B)/libiotc.so.$(VERSION)
CENTRAL_A := $(B)/libiotc_central.a
DTDL_A    := $(B)/libiotc_dtdl.a
UTIL_A    := $(B)/libiotc_util.a
CENTRAL_BIN := $(B)/iotc-central
CLI_BIN  := $(B)/iotc
SIM_BIN  := $(B)/iotc-sim
EXAMPLE_BINS := $(foreach e,$(EXAMPLES),$(B)/$(subst _,-,$(e)))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
INTEG_BINS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(INTEG_SRC))
REPLAY_BINS := $(patsubst fuzz/fuzz_%.c,$(B)/tests/replay_%,$(FUZZ_SRC))

LIBS_DEVICE  := $(call pc_libs,$(PKGS_DEVICE))
# libjq (jq 1.6, export transforms) ships no pkg-config file in Debian 12
LIBS_CENTRAL := $(call pc_libs,$(PKGS_CENTRAL)) -ljq -lpthread -lm
LIBS_CLI     := $(call pc_libs,$(PKGS_CLI))
LIBS_TEST    := $(call pc_libs,$(PKGS_TEST))
PKG_CFLAGS   := $(call pc_cflags,$(PKGS_DEVICE) $(PKGS_CENTRAL) $(PKGS_CLI) $(PKGS_TEST))

.PHONY: all lib central cli sim examples tests test unit fuzz fuzz-smoke bench install uninstall \
        clean lint format format-check print-builddir
all: lib central cli sim examples tests

lib: $(LIB_A) $(LIB_SO) $(B)/iotc.pc
central: $(if $(wildcard $(CENTRAL_MAIN)),$(CENTRAL_BIN),)
cli: $(if $(CLI_SRC),$(CLI_BIN),)
sim: $(if $(SIM_SRC),$(SIM_BIN),)
examples: $(EXAMPLE_BINS)
tests: $(UNIT_BINS) $(INTEG_BINS) $(REPLAY_BINS) $(B)/tests/sasvec $(B)/tests/kafka-mock $(B)/tests/store-move

print-builddir:
	@echo $(B)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(PKG_CFLAGS) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB_A): $(CORE_OBJ) $(DEVICE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(CORE_OBJ) $(DEVICE_OBJ)
	$(CC) -shared -Wl,-soname,libiotc.so.$(SOVERSION) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_DEVICE)
	ln -sf libiotc.so.$(VERSION) $(B)/libiotc.so.$(SOVERSION)
	ln -sf libiotc.so.$(SOVERSION) $(B)/libiotc.so

WEB_DEPS := tools/embed-web.mjs $(shell find web -type f 2>/dev/null) $(wildcard node_modules/uplot/dist/uPlot.*)
%/gen/web_assets.c: $(WEB_DEPS)
	@mkdir -p $(dir $@)
	node tools/embed-web.mjs $@

$(B)/obj/gen/web_assets.o: $(WEB_GEN) src/central/api/web.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(CENTRAL_A): $(CENTRAL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $^,,/dev/null)

$(DTDL_A): $(DTDL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(UTIL_A): $(UTIL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $^,,/dev/null)

$(CENTRAL_BIN): $(call obj,$(CENTRAL_MAIN)) $(CENTRAL_A) $(DTDL_A) $(UTIL_A) $(LIB_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CENTRAL) $(LIBS_DEVICE)

$(CLI_BIN): $(CLI_OBJ) $(UTIL_A) $(LIB_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CLI) $(LIBS_DEVICE)

# Load generator; it shares the DTDL importer with the server.
$(SIM_BIN): $(call obj,$(SIM_SRC)) $(DTDL_A) $(UTIL_A) $(LIB_A)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(call pc_libs,libevent libevent_openssl openssl libcjson) -lm

define example_rule
$(B)/$(subst _,-,$(1)): $(call obj,$(wildcard examples/$(1)/*.c)) $(UTIL_A) $(LIB_A)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LIBS_DEVICE) -lm
endef
$(foreach e,$(EXAMPLES),$(eval $(call example_rule,$(e))))

ALL_TEST_LIBS := $(LIBS_TEST) $(LIBS_CENTRAL) $(LIBS_DEVICE) $(LIBS_CLI)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(TESTLIB_OBJ) $(CENTRAL_A) $(DTDL_A) $(UTIL_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(ALL_TEST_LIBS)

$(patsubst tests/integration/%.c,$(B)/tests/%,$(INTEG_SRC)): $(B)/tests/%: $(B)/obj/tests/integration/%.o $(TESTLIB_OBJ) $(CENTRAL_A) $(DTDL_A) $(UTIL_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(ALL_TEST_LIBS)

# Corpus replay: every fuzz target also builds with a plain main() that feeds it each seed.
$(B)/tests/replay_%: $(B)/obj/fuzz/fuzz_%.o $(B)/obj/fuzz/replay_main.o $(CENTRAL_A) $(DTDL_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(ALL_TEST_LIBS)

# Small helper the Node cross-check drives: prints tokens and derived keys computed by the core.
$(B)/tests/sasvec: $(B)/obj/tests/interop/sasvec.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_DEVICE)

# The export benchmark's Kafka side (bench/export_bench.sh): librdkafka's mock cluster and a
# consumer that counts what arrives.
$(B)/tests/kafka-mock: $(B)/obj/bench/kafka_mock.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CENTRAL)

# The store's staged-row move alone (bench/store_move.sh counts its instructions).
$(B)/tests/store-move: $(B)/obj/bench/store_move.o $(CENTRAL_A) $(DTDL_A) $(UTIL_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_CENTRAL) $(LIBS_DEVICE)

$(B)/iotc.pc: tools/iotc.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

test: all
	@IOTC_SAN_FLAGS="$(SAN_FLAGS)" tools/run-tests.sh $(B)

unit: tests
	@tools/run-tests.sh $(B) unit

# ---- fuzzing (always clang + libFuzzer, in its own build dir) ----
FUZZ_B := build/fuzz
FUZZ_CFLAGS := -std=c11 -O1 -g -Iinclude -Isrc -D_DEFAULT_SOURCE -DIOTC_VERSION=\"$(VERSION)\" \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(PKG_CFLAGS)
FUZZ_LIB_SRC := $(CORE_SRC) $(DTDL_SRC) $(UTIL_SRC) $(filter-out $(CENTRAL_MAIN),$(CENTRAL_SRC)) \
                $(FUZZ_B)/gen/web_assets.c
.SECONDARY: $(FUZZ_B)/gen/web_assets.c
FUZZ_BINS := $(patsubst fuzz/fuzz_%.c,$(FUZZ_B)/fuzz_%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 30

fuzz: $(FUZZ_BINS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_B)/fuzz_%: fuzz/fuzz_%.c $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIB_SRC))
	clang $(FUZZ_CFLAGS) -o $@ $^ $(LIBS_CENTRAL) $(LIBS_DEVICE)

fuzz-smoke: $(FUZZ_BINS)
	@tools/fuzz-smoke.sh $(FUZZ_B) $(FUZZ_SECONDS)

bench: all $(B)/tests/kafka-mock
	@tools/bench.sh $(B)

# ---- install ----
# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=$(PREFIX)/etc]: the four programs,
# libiotc with its headers and iotc.pc, the man pages, the systemd unit and sysusers.d entry of
# iotc-central and its configuration file (kept if it exists). Nothing goes outside
# $(DESTDIR)$(PREFIX) unless SYSCONFDIR or SYSTEMDUNITDIR say so (the Debian package does).
#
# The build tree's programs link libiotc.a; the installed ones are linked again against the
# installed libiotc.so.$(SOVERSION), found through RUNPATH=$(PREFIX)/lib (none for PREFIX=/usr,
# where the dynamic linker looks anyway). The MQTT codec (src/proto/mqtt*.c) and the WebSocket
# framing (src/proto/ws.c) are not part of libiotc's ABI, so the server (both) and the simulator
# (the MQTT codec) carry their own copy.
BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
MANDIR         ?= $(PREFIX)/share/man
SYSCONFDIR     ?= $(PREFIX)/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
RUNPATH        ?= $(if $(filter /usr /usr/ /,$(PREFIX)),,$(LIBDIR))
CONF_EXAMPLE   := $(firstword $(wildcard etc/iotc-central.conf))
MAN_PAGES      := $(sort $(wildcard man/*.1 man/*.8))
INST_B         := $(B)/inst
MQTT_OBJ       := $(call obj,$(wildcard src/proto/mqtt*.c))
WS_OBJ         := $(call obj,$(wildcard src/proto/ws.c))
INST_LINK       = $(CC) $(LDFLAGS_ALL) $(if $(RUNPATH),-Wl$(comma)--enable-new-dtags$(comma)-rpath$(comma)$(RUNPATH))
comma := ,
subst_dirs = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
                 -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g'

CONF_DEST := $(DESTDIR)$(SYSCONFDIR)/iotc-central/iotc-central.conf
install_conf = [ -e $(CONF_DEST) ] || install -m 644 $(CONF_EXAMPLE) $(CONF_DEST)
uninstall_conf = ! cmp -s $(CONF_EXAMPLE) $(CONF_DEST) || rm -f $(CONF_DEST)

install: lib central cli sim examples
	@mkdir -p $(INST_B)
	$(INST_LINK) -o $(INST_B)/iotc-central $(call obj,$(CENTRAL_MAIN)) $(MQTT_OBJ) $(WS_OBJ) $(CENTRAL_A) \
	  $(DTDL_A) $(UTIL_A) -L$(B) -liotc $(LIBS_CENTRAL) $(LIBS_DEVICE)
	$(INST_LINK) -o $(INST_B)/iotc $(CLI_OBJ) $(UTIL_A) -L$(B) -liotc $(LIBS_CLI) $(LIBS_DEVICE)
	$(INST_LINK) -o $(INST_B)/iotc-sim $(call obj,$(SIM_SRC)) $(MQTT_OBJ) $(DTDL_A) $(UTIL_A) \
	  -L$(B) -liotc $(call pc_libs,libevent libevent_openssl openssl libcjson) -lm
	$(INST_LINK) -o $(INST_B)/environmental-sensor $(call obj,$(wildcard examples/environmental_sensor/*.c)) \
	  $(UTIL_A) -L$(B) -liotc $(LIBS_DEVICE) -lm
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/iotc \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/iotc-central
	install -m 755 $(INST_B)/iotc-central $(INST_B)/iotc $(INST_B)/iotc-sim \
	  $(INST_B)/environmental-sensor $(DESTDIR)$(BINDIR)/
	install -m 644 include/iotc/*.h $(DESTDIR)$(INCLUDEDIR)/iotc/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libiotc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libiotc.so.$(SOVERSION)
	ln -sf libiotc.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libiotc.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' tools/iotc.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/iotc.pc
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/
	$(subst_dirs) tools/iotc-central.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/iotc-central.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/iotc-central.service
	install -m 644 tools/iotc-central.sysusers $(DESTDIR)$(SYSUSERSDIR)/iotc-central.conf
	$(if $(CONF_EXAMPLE),$(install_conf),@echo "install: TODO: no etc/iotc-central.conf yet, no configuration file installed")

# The configuration file goes only if it is still the one installed.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,iotc-central iotc iotc-sim environmental-sensor)
	rm -rf $(DESTDIR)$(INCLUDEDIR)/iotc
	rm -f $(DESTDIR)$(LIBDIR)/libiotc.* $(DESTDIR)$(LIBDIR)/pkgconfig/iotc.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_PAGES))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(filter %.8,$(MAN_PAGES))))
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/iotc-central.service $(DESTDIR)$(SYSUSERSDIR)/iotc-central.conf
	$(if $(CONF_EXAMPLE),$(uninstall_conf))
	-rmdir $(DESTDIR)$(SYSCONFDIR)/iotc-central 2>/dev/null

# ---- hygiene ----
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)
format-check:
	clang-format --dry-run --Werror $(C_FILES)
# make lint: formatting, banned calls, the server's layering, and cppcheck; .ci/run runs it.
# cppcheck reads no system header; the <sys/queue.h> list macros are given to it explicitly.
SYS_QUEUE_H = $(firstword $(wildcard /usr/include/*/sys/queue.h /usr/include/sys/queue.h))
lint: format-check
	tools/check-banned.sh
	tools/check-layers.sh
	cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	  -Iinclude -Isrc --suppress=missingIncludeSystem $(addprefix --include=,$(SYS_QUEUE_H)) \
	  src examples

clean:
	rm -rf build

-include $(shell find $(B)/obj $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
