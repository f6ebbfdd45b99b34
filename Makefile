# ckptdev - build, install and test.  See README.md.
#
#   make                 library (shared and static) and tools into build/
#   make check           every test tier (installs missing packages first)
#   make install         PREFIX=/usr/local DESTDIR=...
#   make NETBUF=no       build without libnl: NIC setup fails with NOTSUP

BUILD    ?= build
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
BINDIR   ?= $(PREFIX)/bin
DESTDIR  ?=
CC       ?= cc
VERSION  := 0.1.0
SOMAJOR  := 0

PKGS     := xenstore xentoollog
CPPFLAGS += -Iinclude -D_GNU_SOURCE
CFLAGS   ?= -g -O2
CFLAGS   += -std=c11 -Wall -Wextra -Werror -fPIC \
            -MMD -MP $(SANITIZE_FLAGS)
LDLIBS_LIB := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lxenstore -lxentoollog) \
              -lev -lpthread
LDFLAGS  += $(SANITIZE_FLAGS)

ifeq ($(SANITIZE),1)
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=undefined
endif

# Network buffering backend: nb_nl.c (libnl) or nb_stub.c (NETBUF=no).
NETBUF   ?= no
LIB_SRC  := $(wildcard src/ao/*.c) $(wildcard src/devices/*.c) src/netbuf/nb_stub.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
SONAME   := libckptdev.so.$(SOMAJOR)
SHLIB    := $(BUILD)/libckptdev.so.$(VERSION)
STLIB    := $(BUILD)/libckptdev.a

all: $(SHLIB) $(BUILD)/libckptdev.so $(STLIB) $(BUILD)/ckptdev.pc

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(SHLIB): $(LIB_OBJ) src/libckptdev.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libckptdev.map \
	      -Wl,--no-undefined $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS_LIB)

$(BUILD)/libckptdev.so: $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The .pc names the prefix given to `make install`, so install writes its
# own copy; this one is for pkg-config against the default prefix.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|' \
	     -e 's|@VERSION@|$(VERSION)|'

$(BUILD)/ckptdev.pc: ckptdev.pc.in Makefile
	@mkdir -p $(dir $@)
	$(PC_SED) $< > $@

include tests/tests.mk
-include tests/vm/vm.mk
-include tests/xen/xen.mk

# ---------------------------------------------------------------- install

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/ckptdev
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libckptdev.so
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/ckptdev.h $(DESTDIR)$(INCDIR)/
	install -m 0644 include/ckptdev/*.h $(DESTDIR)$(INCDIR)/ckptdev/
	$(PC_SED) ckptdev.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ckptdev.pc

# ------------------------------------------------------------- packages

deps:
	@scripts/install-deps

# ------------------------------------------------------------ formatting

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: clean"

clean:
	rm -rf $(BUILD)

.PHONY: all install deps format format-check clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

demo:
	@echo "make demo: the sample driver and its demo arrive with the NIC kind (src/netbuf)" >&2
	@false

.PHONY: demo
