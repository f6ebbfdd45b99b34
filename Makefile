# ckptdev - build, install and test.  See README.md.
#
#   make                 library (shared and static) and tools into build/
#   make check           every test tier (installs missing packages first)
#   make install         PREFIX=/usr/local DESTDIR=... (library, headers,
#                        ckptdev.pc, the tool, the hotplug script, man pages)
#   make NETBUF=no       build without libnl: NIC setup fails with NOTSUP

.DEFAULT_GOAL := all

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
LDLIBS_LIB = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lxenstore -lxentoollog) \
              -lev -lpthread
LDFLAGS  += $(SANITIZE_FLAGS)

# SANITIZE=1: ASan and UBSan (check-asan); SANITIZE=tsan: ThreadSanitizer
# (check-tsan).  The two cannot be combined in one binary.
ifeq ($(SANITIZE),1)
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),tsan)
SANITIZE_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

# Network buffering backend: nb_nl.c, nb_sweep.c and nb_linkmon.c (netlink) or nb_stub.c (NETBUF=no).
NETBUF   ?= yes
SCRIPTDIR ?= $(PREFIX)/libexec/ckptdev
LIB_SRC  := $(wildcard src/ao/*.c) $(wildcard src/devices/*.c) src/netbuf/nic.c \
            src/netbuf/owner.c src/netbuf/survey.c src/builtin_kinds.c
ifeq ($(NETBUF),no)
LIB_SRC  += src/netbuf/nb_stub.c
else
LIB_SRC  += src/netbuf/nb_nl.c src/netbuf/nb_parse.c src/netbuf/nb_sweep.c \
            src/netbuf/nb_linkmon.c
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS  := $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)
LDLIBS_LIB += $(NL_LIBS)
$(BUILD)/src/netbuf/nb_nl.o: CPPFLAGS += $(NL_CFLAGS)
endif
$(BUILD)/src/netbuf/nic.o: CPPFLAGS += -DCKPT_NETBUF_SCRIPT='"$(SCRIPTDIR)/remus-netbuf-setup"'
# nic.o holds the script's installed path: build it again when that path
# changes (`make install PREFIX=...` after a plain `make`).
$(BUILD)/src/netbuf/nic.o: $(BUILD)/scriptdir
$(BUILD)/scriptdir: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SCRIPTDIR)' | cmp -s - $@ || echo '$(SCRIPTDIR)' > $@

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
SONAME   := libckptdev.so.$(SOMAJOR)
SHLIB    := $(BUILD)/libckptdev.so.$(VERSION)
STLIB    := $(BUILD)/libckptdev.a

TOOLS    := $(BUILD)/ckptdev

all: $(SHLIB) $(BUILD)/libckptdev.so $(STLIB) $(BUILD)/ckptdev.pc $(TOOLS)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(SHLIB): $(LIB_OBJ) src/libckptdev.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libckptdev.map \
	      -Wl,--no-undefined $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS_LIB)

$(BUILD)/libckptdev.so: $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# The tools in the build tree find the shared library next to them
# (RUNPATH $ORIGIN); `make install` links them again for the install
# (see INSTALL_RPATH below).
TOOL_LDLIBS = -lckptdev -lev $(shell pkg-config --libs xentoollog 2>/dev/null || echo -lxentoollog)

$(BUILD)/ckptdev: $(BUILD)/tools/ckptdev.o $(BUILD)/libckptdev.so
	$(CC) $(LDFLAGS) -o $@ $< -L$(BUILD) -Wl,-rpath,'$$ORIGIN' $(TOOL_LDLIBS)

$(STLIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The .pc names the prefix given to `make install`, so install writes its
# own copy; this one is for pkg-config against the default prefix.  libdir
# and includedir are written as ${prefix}/... when they lie below PREFIX
# (the default), so that the installed tree can be relocated.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
	     -e 's|@INCDIR@|$(call pc_rel,$(INCDIR))|; s|@VERSION@|$(VERSION)|' \
	     -e 's|@LIBS_PRIVATE@|$(strip $(NL_LIBS) -lpthread)|'
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

$(BUILD)/ckptdev.pc: ckptdev.pc.in Makefile
	@mkdir -p $(dir $@)
	$(PC_SED) $< > $@

include tests/tests.mk
-include tests/net/net.mk
-include tests/vm/vm.mk
-include tests/xen/xen.mk
-include tests/fuzz/fuzz.mk

# ---------------------------------------------------------------- install

# The installed tool finds the installed library through its RUNPATH,
# without ldconfig or LD_LIBRARY_PATH: $ORIGIN followed by the way from
# BINDIR to LIBDIR ($ORIGIN/../lib by default).  Relative, so the tool runs
# from the prefix, from a DESTDIR stage (it loads the stage's library, the
# one it was installed with) and from a tree moved elsewhere, like the
# relocatable ckptdev.pc.  An absolute -rpath,$(LIBDIR) would make a
# staged tool load whatever library the machine has at LIBDIR.
# INSTALL_RPATH= (empty) installs the tool without a RUNPATH, for a
# distribution that puts the library in the system's search path.
comma := ,
INSTALL_RPATH ?= $$ORIGIN/$(shell realpath -ms --relative-to='$(BINDIR)' '$(LIBDIR)')

# The man pages name the installed paths.
MANDIR    ?= $(PREFIX)/share/man
MAN_PAGES := man/ckptdev.1 man/libckptdev.3 man/remus-netbuf-setup.8
MAN_SED    = sed -e 's|@VERSION@|$(VERSION)|g; s|@SCRIPTDIR@|$(SCRIPTDIR)|g; s|@INCDIR@|$(INCDIR)|g'

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/ckptdev
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libckptdev.so
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -d $(DESTDIR)$(SCRIPTDIR) $(DESTDIR)$(BINDIR) $(BUILD)/install
	$(CC) $(LDFLAGS) -o $(BUILD)/install/ckptdev $(BUILD)/tools/ckptdev.o -L$(BUILD) \
	      $(if $(INSTALL_RPATH),-Wl$(comma)-rpath$(comma)'$(INSTALL_RPATH)') $(TOOL_LDLIBS)
	install -m 0755 $(BUILD)/install/ckptdev $(DESTDIR)$(BINDIR)/
	install -m 0755 scripts/remus-netbuf-setup $(DESTDIR)$(SCRIPTDIR)/
	install -m 0644 include/ckptdev.h $(DESTDIR)$(INCDIR)/
	install -m 0644 include/ckptdev/*.h $(DESTDIR)$(INCDIR)/ckptdev/
	$(PC_SED) ckptdev.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ckptdev.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	for f in $(MAN_PAGES); do \
		$(MAN_SED) $$f > $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/} || exit 1; \
	done

# docs/api.md: every public function's contract, from the headers'
# comments (check-install checks that it is up to date).
api-doc:
	scripts/gen-api-md > docs/api.md

.PHONY: api-doc

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

FORCE:

.PHONY: all install deps format format-check clean FORCE

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The main job: the sample driver protecting a demo guest's traffic, here
# if this kernel has sch_plug, else inside the test VM; then its verdict
# and picture from the logs in DEMO_OUT (tools/demo/verdict).
HAVE_PLUG = unshare -n sh -c 'ip link add ckpt-probe type ifb && \
	    tc qdisc add dev ckpt-probe root plug' >/dev/null 2>&1
DEMO_OUT ?= $(BUILD)/demo
DEMO_UDP := $(BUILD)/tools/demo/demo-udp

$(DEMO_UDP): $(BUILD)/tools/demo/demo_udp.o
	$(CC) $(LDFLAGS) -o $@ $<

demo: deps all $(BUILD)/tests/libxsd_stub.so $(DEMO_UDP)
	@mkdir -p $(DEMO_OUT)
	@if $(HAVE_PLUG); then \
		BUILD=$(BUILD) OUT=$(DEMO_OUT) tools/demo/run-demo; \
	else \
		echo "this kernel has no sch_plug: running the demo in the test VM"; \
		tests/vm/run-in-vm --results $(abspath $(DEMO_OUT)) -- \
		    env BUILD=$(abspath $(BUILD)) $(abspath tools/demo/run-demo); \
	fi
	@tools/demo/verdict $(DEMO_OUT)

.PHONY: demo
