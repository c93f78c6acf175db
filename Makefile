# idictfs - GNU make.  `make`, `make check`, `make demo`, `make check-sanitize`,
# `make bench`, `make fuzz`, `make install`.  Quiet unless V=1.
# SANITIZE=address,undefined builds into build/sanitize.
#
# The file reads top down: configuration, then what each target builds (all
# in one place), then a section per product: libidict, libidict-mpi, the
# demos and examples, the test programs, the fuzzers, the benchmarks,
# running the tests, installing.
#
# Two sets of targets, two sets of dependencies:
#   `make` (all)      the libraries, the demos and build/idict-uninstalled.pc:
#                     needs only the libraries libidict uses (LIB_PKGS), and
#                     MPI for libidict-mpi (WITH_MPI=no builds without it).
#   `make check`      also the test programs (the `tests` target), which need
#                     Check, libnfs and clang: a test program goes in `tests`,
#                     never in `all`.

CC ?= cc
CXX ?= g++
CFLAGS ?= -O2 -g
CXXFLAGS ?= -O2 -g
LDFLAGS ?=
PREFIX ?= /usr/local

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/sanitize
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKG_CONFIG ?= pkg-config
LIB_PKGS := fuse3 glib-2.0 fmt mount
LIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIB_PKGS))
# src/format_double.cc is C++ but needs nothing from libstdc++ today
# (-fno-exceptions -fno-rtti; libfmt brings its own); --as-needed links
# libstdc++ only if that changes, for everything linked with $(CC).
LIB_LIBS := $(shell $(PKG_CONFIG) --libs $(LIB_PKGS)) -lpthread \
	-Wl,--push-state,--as-needed -lstdc++ -Wl,--pop-state
FMT_CFLAGS := $(shell $(PKG_CONFIG) --cflags fmt)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARNINGS := -std=c17 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wwrite-strings -Wformat=2 -Wundef \
	-Wvla -Wimplicit-fallthrough
DEFINES := -D_GNU_SOURCE -DFUSE_USE_VERSION=312 \
	-DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
PROJECT_CFLAGS := $(WARNINGS) $(DEFINES) -Iinclude -fPIC -MMD -MP $(SAN_FLAGS)
# The C++ shim: the same spirit, no exceptions (nothing may unwind through
# C frames) and no RTTI.
CXX_WARNINGS := -std=c++17 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wformat=2 -Wundef -Wvla \
	-Wimplicit-fallthrough -Wold-style-cast -Wmissing-declarations
PROJECT_CXXFLAGS := $(CXX_WARNINGS) -fno-exceptions -fno-rtti -fPIC -MMD -MP $(SAN_FLAGS)

LIB_SRCS := src/root.c src/names.c src/format.c src/value.c src/store.c src/tree.c src/control.c \
	src/notify.c src/fs_view.c src/update_log.c src/ctl.c src/fs.c src/clients.c \
	src/updates.c src/server.c src/signals.c src/checkpoint.c src/snapshot.c src/refusals.c \
	src/pins.c src/texts.c
LIB_CXX_SRCS := src/format_double.cc
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o) $(LIB_CXX_SRCS:src/%.cc=$(BUILD)/obj/%.o)
# The version is the header's (IDICT_MAJOR/MINOR/MICRO_VERSION), in one place.
VERSION := $(shell awk '/^\#define IDICT_(MAJOR|MINOR|MICRO)_VERSION / \
	{ v = v (v == "" ? "" : ".") $$3 } END { print v }' include/idict.h)
SONAME := libidict.so.0
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
TESTS := test_names test_format test_store test_dictops test_update_log test_checkpoint test_history \
	test_refusals test_clients test_mount
TEST_BINS := $(TESTS:%=$(BUILD)/tests/%)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# contrib/examples/: small computations written the way the users of
# mmf.async.server write their loop; tests/shell/test_examples.sh runs them.
EXAMPLES := sweep
EXAMPLE_BINS := $(EXAMPLES:%=$(BUILD)/examples/%)

# libidict-mpi: one dictionary for a whole MPI job, a library of its own so
# that libidict never depends on MPI.  Built with the MPI that pkg-config's
# mpi-c names (Debian's alternative: Open MPI from libopenmpi-dev, or
# MPICH); MPI_PKG picks another (ompi-c, mpich).
WITH_MPI ?= yes
MPI_PKG ?= mpi-c
MPI_SONAME := libidict-mpi.so.0
MPI_BINS :=
MPI_TEST_BINS :=
MPI_BENCH_BIN :=
ifeq ($(WITH_MPI),yes)
MPI_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags $(MPI_PKG)))
MPI_LIBS := $(shell $(PKG_CONFIG) --libs $(MPI_PKG))
MPI_SRCS := src/mpi/changes.c src/mpi/sync.c
MPI_OBJS := $(MPI_SRCS:src/%.c=$(BUILD)/obj/%.o)
MPI_BINS := $(BUILD)/libidict-mpi.a $(BUILD)/libidict-mpi.so $(BUILD)/idict-mpi-demo
MPI_TEST_BINS := $(BUILD)/tests/test_mpi
MPI_BENCH_BIN := $(BUILD)/bench/idict-mpi-bench
endif

# The fuzzers: see "fuzzers" below.
FUZZ_CC ?= clang
FUZZ_CXX ?= clang++
FUZZ_CFLAGS ?= -O1 -g
FUZZ_CXXFLAGS ?= -O1 -g
FUZZ_SECONDS ?= 20
FUZZ_BUILD := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_PROJECT_CFLAGS := $(filter-out $(SAN_FLAGS),$(PROJECT_CFLAGS)) -Wno-format-nonliteral
FUZZ_PROJECT_CXXFLAGS := $(filter-out $(SAN_FLAGS),$(PROJECT_CXXFLAGS))
FUZZ_OBJS := $(LIB_SRCS:src/%.c=$(FUZZ_BUILD)/obj/%.o) $(LIB_CXX_SRCS:src/%.cc=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

# The remote-access client (tests/idict-remote-check.c): libnfs.
NFS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libnfs 2>/dev/null)
NFS_LIBS := $(shell $(PKG_CONFIG) --libs libnfs 2>/dev/null || echo -lnfs)

# The benchmarks: see "benchmarks" below.
BENCH_ARGS ?=
BENCH_SRCS := tests/bench/bench.c tests/bench/floor_fs.c
BENCH_OBJS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%.o)
ifeq ($(shell $(PKG_CONFIG) --exists hiredis 2>/dev/null && echo yes),yes)
BENCH_CFLAGS := -DHAVE_HIREDIS $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags hiredis))
BENCH_LIBS := $(shell $(PKG_CONFIG) --libs hiredis)
endif

# The Python module and tools: see "installing" below.
PYTHON3 ?= $(firstword $(wildcard /usr/bin/python3) python3)
ifeq ($(PREFIX),/usr)
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
else
PYTHONDIR ?= $(PREFIX)/lib/python$(shell $(PYTHON3) -c \
	'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)/dist-packages
endif
CONTRIB_TOOLS := idict-watch idict-plot

# ---- what each target builds ----

.PHONY: all tests check check-sanitize check-test-deps demo clean install uninstall
all: $(BUILD)/libidict.a $(BUILD)/libidict.so $(BUILD)/idict-demo $(BUILD)/idict-uninstalled.pc \
	$(EXAMPLE_BINS) $(MPI_BINS)
tests: $(TEST_BINS) $(MPI_TEST_BINS) fuzz-build $(BUILD)/tests/soak \
	$(BUILD)/tests/idict-remote-check

# ---- libidict ----

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PROJECT_CFLAGS) -DIDICT_COMPILATION -fvisibility=hidden $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: src/%.cc
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(PROJECT_CXXFLAGS) -fvisibility=hidden $(FMT_CFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libidict.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libidict.so: $(LIB_OBJS) src/libidict.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined \
		-Wl,--version-script=src/libidict.map $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $(LIB_OBJS) $(LIB_LIBS)

# For programs built against the source tree:
# PKG_CONFIG_PATH=build pkg-config --cflags --libs idict
$(BUILD)/idict-uninstalled.pc: src/idict-uninstalled.pc.in Makefile
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)sed -e 's|@SRCDIR@|$(CURDIR)|' -e 's|@BUILDDIR@|$(abspath $(BUILD))|' \
		-e 's|@VERSION@|$(VERSION)|' $< >$@

-include $(LIB_OBJS:.o=.d)

# ---- libidict-mpi ----

ifeq ($(WITH_MPI),yes)
$(BUILD)/obj/mpi/%.o: src/mpi/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PROJECT_CFLAGS) -DIDICT_MPI_COMPILATION -fvisibility=hidden $(MPI_CFLAGS) \
		$(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libidict-mpi.a: $(MPI_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libidict-mpi.so: $(MPI_OBJS) src/mpi/libidict-mpi.map $(BUILD)/libidict.so
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(MPI_SONAME) -Wl,--no-undefined \
		-Wl,--version-script=src/mpi/libidict-mpi.map $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $(MPI_OBJS) -L$(BUILD) -lidict $(MPI_LIBS) $(shell $(PKG_CONFIG) --libs glib-2.0)

$(BUILD)/idict-mpi-demo: contrib/idict-mpi-demo.c $(BUILD)/libidict-mpi.a $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(MPI_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libidict-mpi.a $(BUILD)/libidict.a $(MPI_LIBS) $(LIB_LIBS) -lm

$(BUILD)/tests/test_mpi: tests/mpi/test_mpi.c $(BUILD)/libidict-mpi.a $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) -Isrc -Isrc/mpi $(MPI_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) \
		$(LDFLAGS) -o $@ $< $(BUILD)/libidict-mpi.a $(BUILD)/libidict.a $(MPI_LIBS) \
		$(LIB_LIBS) -lm

$(BUILD)/bench/idict-mpi-bench: tests/bench/mpi_bench.c $(BUILD)/libidict-mpi.a $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(MPI_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libidict-mpi.a $(BUILD)/libidict.a $(MPI_LIBS) $(LIB_LIBS) -lm

-include $(MPI_OBJS:.o=.d) $(BUILD)/idict-mpi-demo.d $(BUILD)/tests/test_mpi.d \
	$(BUILD)/bench/idict-mpi-bench.d
endif

# ---- the demos and examples ----

demo: $(BUILD)/idict-demo
	$(BUILD)/idict-demo mnt

$(BUILD)/idict-demo: contrib/idict-demo.c $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libidict.a \
		$(LIB_LIBS) -lm

-include $(EXAMPLE_BINS:=.d)

$(BUILD)/examples/%: contrib/examples/%.c $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libidict.a \
		$(LIB_LIBS) -lm

# ---- test programs: the Check suites, the soak load, the remote-access client ----

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) -Isrc $(LIB_CFLAGS) $(CHECK_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libidict.a $(LIB_LIBS) $(CHECK_LIBS) -lm

# The soak load generator: plain threads and syscalls, no libidict.
$(BUILD)/tests/soak: tests/soak.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_LIBS) -lm

-include $(BUILD)/tests/soak.d

# The client side of tests/shell/test_sshfs.sh and test_nfs.sh: timed reads
# through a mount or over NFSv4 with libnfs (libnfs-dev), file handles.

$(BUILD)/tests/idict-remote-check: tests/idict-remote-check.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(NFS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(LIB_LIBS) $(NFS_LIBS)

-include $(BUILD)/tests/idict-remote-check.d

# ---- fuzzers ----
# `make fuzz` builds the libFuzzer targets tests/fuzz/fuzz_*.c with clang into
# build/fuzz/ and runs each for FUZZ_SECONDS after replaying its regression
# inputs (tests/fuzz/regressions/NAME/, NAME: fuzz_NAME.c) and seed corpus
# (tests/fuzz/corpus/NAME/); crash inputs go to a temporary directory and,
# if any, are copied to build/fuzz/crashes/.  `make check` runs every fuzzer
# for about 10 s (tests/shell/test_fuzz.sh) and the soak test
# (tests/shell/test_soak.sh, driving $(BUILD)/tests/soak).
#
# The fuzz build is the same in every build (plain or SANITIZE=...): it always
# has the fuzzer, address and undefined sanitizers, and drops this build's
# SAN_FLAGS.  It keeps the project's warning set, less clang's
# -Wformat-nonliteral (part of clang's -Wformat=2, not gcc's), which flags
# src/server.c passing a va_list format on.
.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/shell/test_fuzz.sh

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_PROJECT_CFLAGS) -DIDICT_COMPILATION -fvisibility=hidden $(LIB_CFLAGS) \
		$(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: src/%.cc
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCXX $<")
	$(Q)$(FUZZ_CXX) $(FUZZ_PROJECT_CXXFLAGS) -fvisibility=hidden $(FMT_CFLAGS) $(FUZZ_CXXFLAGS) \
		$(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libidict.a: $(FUZZ_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libidict.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_PROJECT_CFLAGS) -Isrc $(LIB_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) \
		-fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libidict.a $(LIB_LIBS) -lm

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

# ---- benchmarks ----
# `make bench` builds tests/bench/ and prints the performance table (README, "Performance"): every figure
# beside its baseline measured in the same run (FUSE floor, tmpfs, Redis).
# Not part of `all` or `check`.  BENCH_ARGS passes options to the harness
# (--quick, --only cost,read,...; see tests/bench/bench.c).  The Redis rows
# need `apt-get install redis-server libhiredis-dev`; without them they are
# left empty.
.PHONY: bench
bench: $(BUILD)/bench/idict-bench $(MPI_BENCH_BIN)
	$(Q)tests/bench/run-bench.sh $(BUILD)/bench/idict-bench $(BENCH_ARGS)

$(BUILD)/bench/%.o: tests/bench/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PROJECT_CFLAGS) -Isrc $(BENCH_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/bench/idict-bench: $(BENCH_OBJS) $(BUILD)/libidict.a
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $(BENCH_OBJS) $(BUILD)/libidict.a \
		$(LIB_LIBS) $(BENCH_LIBS) -lm

-include $(BENCH_OBJS:.o=.d)

# What clear, update, copy and foreach cost, beside the same work key by
# key: `make bench-dictops`.
.PHONY: bench-dictops
bench-dictops: $(BUILD)/bench/dictops
	$(Q)$(BUILD)/bench/dictops

$(BUILD)/bench/dictops: tests/bench/dictops.c $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libidict.a \
		$(LIB_LIBS) -lm

-include $(BUILD)/bench/dictops.d

# ---- running the tests ----

# The test dependencies are looked for first, so that a missing one is
# named instead of failing a compiler.
check:
	$(Q)$(MAKE) --no-print-directory check-test-deps
	$(Q)$(MAKE) --no-print-directory all tests
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-tests.sh $(TESTS)

# Says at once what is missing for the tests, instead of a compiler error.
check-test-deps:
	$(Q)missing=; \
	$(PKG_CONFIG) --exists check || missing="$$missing check"; \
	$(PKG_CONFIG) --exists libnfs || missing="$$missing libnfs-dev"; \
	command -v $(FUZZ_CC) >/dev/null || missing="$$missing clang"; \
	if [ -n "$$missing" ]; then \
		echo "make check needs:$$missing (contrib/install-deps.sh installs them)" >&2; \
		exit 1; \
	fi

# G_SLICE=always-malloc lets LeakSanitizer see GLib's allocations.
check-sanitize:
	$(Q)G_SLICE=always-malloc $(MAKE) --no-print-directory SANITIZE=address,undefined check

# Linux's own NFS server and client, in a VM: tests/shell/test_knfs.sh,
# part of `make check`, boots a throwaway VM (qemu, software emulation; see
# tests/vm/vm.sh) whose kernel exports the demo's mount with nfsd and reads it
# with the NFS client, NFSv4 and NFSv3, and prints the checks and figures.
# Needs root and the packages contrib/install-deps.sh installs; fails, saying
# what to install, without them.  `make check-knfs` runs it alone.
.PHONY: check-knfs
check-knfs: $(BUILD)/idict-demo $(BUILD)/tests/idict-remote-check
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) bash tests/shell/test_knfs.sh

# The README's "Remote access" table: every path measured in one run
# (tests/remote-table.sh; root; about 5 minutes).
.PHONY: remote-table
remote-table: all tests
	$(Q)BUILD=$(BUILD) bash tests/remote-table.sh

# ---- installing ----

# PREFIX is where the files will live (written into idict.pc); DESTDIR is
# prepended when copying, for packaging.
install: $(BUILD)/libidict.a $(BUILD)/libidict.so $(BUILD)/idict-demo
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 $(BUILD)/libidict.a $(DESTDIR)$(LIBDIR)/libidict.a
	install -m 755 $(BUILD)/libidict.so $(DESTDIR)$(LIBDIR)/libidict.so.$(VERSION)
	ln -sf libidict.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libidict.so
	install -m 644 include/idict.h $(DESTDIR)$(INCLUDEDIR)/idict.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' src/idict.pc.in \
		>$(DESTDIR)$(PKGCONFIGDIR)/idict.pc
	install -m 755 $(BUILD)/idict-demo $(DESTDIR)$(BINDIR)/idict-demo
	install -m 644 contrib/man/idict.3 $(DESTDIR)$(MANDIR)/man3/idict.3
	install -m 644 contrib/man/idictfs.7 $(DESTDIR)$(MANDIR)/man7/idictfs.7
	$(Q)$(MAKE) --no-print-directory install-loader-note

# A program linked with -lidict must find libidict.so.0 when it runs.
# Installed into this system (no DESTDIR) as root: ldconfig updates the
# loader's cache.  Then, if the loader still does not find it here (a
# PREFIX outside its search path), say what to do; the same for Python and
# idict.py.  With DESTDIR, the package's own scripts run ldconfig.
LDCONFIG ?= /sbin/ldconfig
.PHONY: install-loader-note
install-loader-note:
ifeq ($(DESTDIR),)
	$(Q)if [ "$$(id -u)" = 0 ]; then $(LDCONFIG); fi; \
	if ! $(LDCONFIG) -p 2>/dev/null | grep -qF '=> $(LIBDIR)/$(SONAME)'; then \
		echo "Note: the dynamic loader does not search $(LIBDIR). Programs linked"; \
		echo "with -lidict find $(SONAME) there if linked with -Wl,-rpath,$(LIBDIR),"; \
		echo "or run with LD_LIBRARY_PATH=$(LIBDIR), or once $(LIBDIR) is listed in"; \
		echo "/etc/ld.so.conf.d/ and ldconfig has run. pkg-config finds idict.pc"; \
		echo "with PKG_CONFIG_PATH=$(PKGCONFIGDIR)."; \
	fi; \
	if ! $(PYTHON3) -c 'import os, sys; sys.exit(os.path.realpath("$(PYTHONDIR)") not in \
		[os.path.realpath(p) for p in sys.path])' 2>/dev/null; then \
		echo "Note: $(PYTHON3) does not search $(PYTHONDIR):"; \
		echo "import idict finds the module there with PYTHONPATH=$(PYTHONDIR)."; \
	fi
endif

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libidict.a $(DESTDIR)$(LIBDIR)/libidict.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libidict.so \
		$(DESTDIR)$(INCLUDEDIR)/idict.h $(DESTDIR)$(PKGCONFIGDIR)/idict.pc \
		$(DESTDIR)$(BINDIR)/idict-demo $(DESTDIR)$(MANDIR)/man3/idict.3 \
		$(DESTDIR)$(MANDIR)/man7/idictfs.7

# The Python module and tools: # `make install` also installs contrib/idict-watch and contrib/idict-plot to
# BINDIR and the Python module contrib/python/idict.py to PYTHONDIR, with
# LIBDIR written into it so that it finds the installed libidict.so.0.
# PYTHONDIR defaults to where Debian's python3 looks: /usr/lib/python3/
# dist-packages for PREFIX=/usr, PREFIX/lib/python3.X/dist-packages else.
.PHONY: install-contrib uninstall-contrib
install: install-contrib
uninstall: uninstall-contrib

install-contrib:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PYTHONDIR)
	install -m 755 $(CONTRIB_TOOLS:%=contrib/%) $(DESTDIR)$(BINDIR)/
	sed -e 's|^_INSTALLED_LIBDIR = None$$|_INSTALLED_LIBDIR = "$(LIBDIR)"|' contrib/python/idict.py \
		>$(DESTDIR)$(PYTHONDIR)/idict.py
	chmod 644 $(DESTDIR)$(PYTHONDIR)/idict.py

uninstall-contrib:
	rm -f $(CONTRIB_TOOLS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(PYTHONDIR)/idict.py

ifeq ($(WITH_MPI),yes)
.PHONY: install-mpi uninstall-mpi
install: install-mpi
uninstall: uninstall-mpi

install-mpi: $(BUILD)/libidict-mpi.a $(BUILD)/libidict-mpi.so $(BUILD)/idict-mpi-demo
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(BUILD)/libidict-mpi.a $(DESTDIR)$(LIBDIR)/libidict-mpi.a
	install -m 755 $(BUILD)/libidict-mpi.so $(DESTDIR)$(LIBDIR)/libidict-mpi.so.$(VERSION)
	ln -sf libidict-mpi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(MPI_SONAME)
	ln -sf $(MPI_SONAME) $(DESTDIR)$(LIBDIR)/libidict-mpi.so
	install -m 644 include/idict-mpi.h $(DESTDIR)$(INCLUDEDIR)/idict-mpi.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@MPI_PKG@|$(MPI_PKG)|' \
		src/mpi/idict-mpi.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/idict-mpi.pc
	install -m 755 $(BUILD)/idict-mpi-demo $(DESTDIR)$(BINDIR)/idict-mpi-demo
	install -m 644 contrib/man/idict-mpi.3 $(DESTDIR)$(MANDIR)/man3/idict-mpi.3

uninstall-mpi:
	rm -f $(DESTDIR)$(LIBDIR)/libidict-mpi.a $(DESTDIR)$(LIBDIR)/libidict-mpi.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(MPI_SONAME) $(DESTDIR)$(LIBDIR)/libidict-mpi.so \
		$(DESTDIR)$(INCLUDEDIR)/idict-mpi.h $(DESTDIR)$(PKGCONFIGDIR)/idict-mpi.pc \
		$(DESTDIR)$(BINDIR)/idict-mpi-demo $(DESTDIR)$(MANDIR)/man3/idict-mpi.3
endif

clean:
	rm -rf build

