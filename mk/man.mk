# Man pages: cachectl(1) and hostcache(3), installed by "make install".
# Every function of include/hostcache.h also gets a page of its own name
# that sources hostcache(3), so that "man hc_open" works.
#
#   make install-man PREFIX=/usr/local DESTDIR=
#   make check-man       groff -wall must have nothing to say

MANDIR ?= $(PREFIX)/share/man
# A declaration: "int hc_open(" or "const char *hc_strerror(" at the start
# of a line.  (In a variable of its own: make would count its parentheses.)
MAN_FUNCTION_SED = s/^[a-z].*[ *]\(hc_[a-z_]*\)(.*/\1/p
MAN_FUNCTIONS = $(shell sed -n '$(MAN_FUNCTION_SED)' include/hostcache.h | sort -u)

.PHONY: install-man check-man
install: install-man

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/cachectl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/hostcache.3 $(DESTDIR)$(MANDIR)/man3/
	for f in $(MAN_FUNCTIONS); do \
	  echo '.so man3/hostcache.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; \
	done

check-man:
	for page in man/cachectl.1 man/hostcache.3; do \
	  out=$$(groff -man -Tutf8 -wall $$page 2>&1 >/dev/null); \
	  if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	done
