# python.mk - "make install" installs the Python binding (python/hostcache)
# where Debian's python3 looks for packages: $(PREFIX)/lib/python3/
# dist-packages for PREFIX=/usr, $(PREFIX)/lib/python3.X/dist-packages for
# any other prefix (/usr/local: sys.path has /usr/local/lib/python3.X/
# dist-packages).  The binding then finds the installed library and header
# in /usr/local or /usr by itself; elsewhere HOSTCACHE_LIB and
# HOSTCACHE_INCLUDE name them.  Skipped, with a note, without python3.
#
#   make install-python PREFIX=/usr/local DESTDIR= [PYTHON_SITE=DIR]

PYTHON3 ?= /usr/bin/python3
# Recursive (=): python3 is asked only when the install runs.
PYTHON3_VERSION = $(shell $(PYTHON3) -c \
  'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHON_SITE ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3,$(PREFIX)/lib/python$(PYTHON3_VERSION))/dist-packages
PYTHON_PACKAGE := $(wildcard python/hostcache/*.py)

.PHONY: install-python
install: install-python

install-python:
	$(if $(PYTHON3_VERSION),install -d $(DESTDIR)$(PYTHON_SITE)/hostcache,@echo \
	  "install-python: no $(PYTHON3); the Python binding is not installed")
	$(if $(PYTHON3_VERSION),install -m 644 $(PYTHON_PACKAGE) \
	  $(DESTDIR)$(PYTHON_SITE)/hostcache/)
