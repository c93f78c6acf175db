# idictfs - GNU make.  `make`, `make check`, `make demo`, `make check-sanitize`.
# Quiet unless V=1.  SANITIZE=address,undefined builds into build/sanitize.

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
PREFIX ?= /usr/local

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/sanitize
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKG_CONFIG ?= pkg-config
LIB_PKGS := fuse3 glib-2.0 json-glib-1.0
LIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(LIB_PKGS))
LIB_LIBS := $(shell $(PKG_CONFIG) --libs $(LIB_PKGS)) -lpthread
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARNINGS := -std=c17 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wwrite-strings -Wformat=2 -Wundef \
	-Wvla -Wimplicit-fallthrough
DEFINES := -D_GNU_SOURCE -DFUSE_USE_VERSION=312 \
	-DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
PROJECT_CFLAGS := $(WARNINGS) $(DEFINES) -Iinclude -fPIC -MMD -MP $(SAN_FLAGS)

LIB_SRCS := src/names.c src/format.c src/store.c src/update_log.c src/ctl.c src/fs.c \
	src/updates.c src/server.c src/signals.c src/checkpoint.c src/snapshot.c
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
VERSION := 0.1.0
SONAME := libidict.so.0
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
TESTS := test_names test_format test_store test_update_log test_checkpoint test_history test_mount
TEST_BINS := $(TESTS:%=$(BUILD)/tests/%)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all check check-sanitize demo clean install uninstall
all: $(BUILD)/libidict.a $(BUILD)/libidict.so $(BUILD)/idict-demo $(TEST_BINS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PROJECT_CFLAGS) -DIDICT_COMPILATION -fvisibility=hidden $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libidict.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libidict.so: $(LIB_OBJS) src/libidict.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined \
		-Wl,--version-script=src/libidict.map $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $(LIB_OBJS) $(LIB_LIBS)

$(BUILD)/idict-demo: contrib/idict-demo.c $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libidict.a \
		$(LIB_LIBS) -lm

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libidict.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) -Isrc $(LIB_CFLAGS) $(CHECK_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libidict.a $(LIB_LIBS) $(CHECK_LIBS) -lm

check: all
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-tests.sh $(TESTS)

# G_SLICE=always-malloc lets LeakSanitizer see GLib's allocations.
check-sanitize:
	$(Q)G_SLICE=always-malloc $(MAKE) --no-print-directory SANITIZE=address,undefined check

demo: $(BUILD)/idict-demo
	$(BUILD)/idict-demo mnt

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

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libidict.a $(DESTDIR)$(LIBDIR)/libidict.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libidict.so \
		$(DESTDIR)$(INCLUDEDIR)/idict.h $(DESTDIR)$(PKGCONFIGDIR)/idict.pc \
		$(DESTDIR)$(BINDIR)/idict-demo $(DESTDIR)$(MANDIR)/man3/idict.3 \
		$(DESTDIR)$(MANDIR)/man7/idictfs.7

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d)

# ---- remote access tests (issue 4) ----
# The client side of tests/shell/test_sshfs.sh and test_nfs.sh: timed reads
# through a mount or over NFSv4 with libnfs (libnfs-dev), file handles.
NFS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libnfs 2>/dev/null)
NFS_LIBS := $(shell $(PKG_CONFIG) --libs libnfs 2>/dev/null || echo -lnfs)

$(BUILD)/tests/idict-remote-check: tests/idict-remote-check.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(PROJECT_CFLAGS) $(LIB_CFLAGS) $(NFS_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(LIB_LIBS) $(NFS_LIBS)

all: $(BUILD)/tests/idict-remote-check
check: $(BUILD)/tests/idict-remote-check

-include $(BUILD)/tests/idict-remote-check.d

