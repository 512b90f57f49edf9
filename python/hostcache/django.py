"""A Django cache backend over a hostcache segment.

    CACHES = {"default": {"BACKEND": "hostcache.django.HostcacheCache"}}

is the whole set-up: every worker process on the host shares the segment
LOCATION (default "django"), created on first use with OPTIONS (hostcache
creation options: size, max_key, max_value, max_procs, mode, ...; size
defaults to 64 MiB) when it does not exist yet.  TIMEOUT, KEY_PREFIX,
VERSION and KEY_FUNCTION mean what Django says: a timeout of None never
expires, 0 or less expires at once (the value is not kept).

Values are pickled, except non-negative ints, which are stored as decimal
text so that incr() and decr() are single atomic calls into the library
(and readable as numbers by C workers and cachectl).  clear() flushes the
whole segment, whoever else shares it.  Whoever may write the segment (its
mode, 0600 by default) can make its readers unpickle what it wrote.
"""

import pickle

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from . import Cache, NoSegment, NotANumber, SegmentExists, _ffi

_PICKLED = 0x80  # the first byte of every pickle of protocol 2 or later


def _encode(value):
    if type(value) is int and value >= 0:
        return str(value).encode()
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _decode(raw):
    if raw[:1] and raw[0] == _PICKLED:
        return pickle.loads(raw)
    return int(raw)


class HostcacheCache(BaseCache):
    def __init__(self, location, params):
        super().__init__(params)
        self._name = location or "django"
        self._options = dict(params.get("OPTIONS") or {})
        self._options.setdefault("size", 64 << 20)
        self._cache = None

    @property
    def _c(self):
        if self._cache is None:
            try:
                self._cache = Cache.open(self._name)
            except NoSegment:
                try:
                    self._cache = Cache.create(self._name, **self._options)
                except SegmentExists:  # another worker made it first
                    self._cache = Cache.open(self._name)
        return self._cache

    def _key(self, key, version):
        key = self.make_key(key, version=version)
        self.validate_key(key)
        return key

    def _ttl(self, timeout):
        """Seconds for the library (None: no expiry), or False when the
        value expires at once."""
        t = self.get_backend_timeout(timeout)
        if t is None:
            return None
        return False if t <= 0 else t

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return timeout

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl is False:
            return key not in self._c
        return self._c.add(key, _encode(value), ttl=ttl)

    def get(self, key, default=None, version=None):
        raw = self._c.get(self._key(key, version))
        return default if raw is None else _decode(raw)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl is False:
            self._c.delete(key)
        else:
            self._c.set(key, _encode(value), ttl=ttl)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl is False:
            return self._c.delete(key)
        return self._c.touch(key, ttl)

    def delete(self, key, version=None):
        return self._c.delete(self._key(key, version))

    def has_key(self, key, version=None):
        return self._key(key, version) in self._c

    def get_many(self, keys, version=None):
        out = {}
        for k in keys:
            raw = self._c.get(self._key(k, version))
            if raw is not None:
                out[k] = _decode(raw)
        return out

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        for k, v in data.items():
            self.set(k, v, timeout, version)
        return []

    def delete_many(self, keys, version=None):
        for k in keys:
            self.delete(k, version)

    def incr(self, key, delta=1, version=None):
        key = self._key(key, version)
        if delta >= 0:
            try:
                n = self._c.incr(key, delta)
            except NotANumber:
                n = self._update(key, delta)
        else:
            n = self._update(key, delta)
        if n is None:
            raise ValueError("Key '%s' not found" % key)
        return n

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)

    def _update(self, key, delta):
        """incr() of a value the library cannot add to in place (a negative
        result, or a pickled number): read, add, compare-and-swap."""
        info = _ffi.new("hc_item_info *")
        while True:
            raw = self._c._get(key, info)
            if raw is None:
                return None
            n = _decode(raw) + delta
            ttl = info.ttl_ms / 1000 if info.ttl_ms else None
            if self._c.cas(key, _encode(n), info.cas, ttl=ttl):
                return n  # with the TTL it had, as incr keeps it

    def clear(self):
        self._c.flush()

    def close(self, **kwargs):
        """Django calls this at the end of each request: the attachment is
        kept for the next one (it costs a slot, not a connection)."""
