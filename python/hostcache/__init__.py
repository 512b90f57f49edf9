"""hostcache - the host-local shared-memory cache, mapped into Python.

A Cache is an attachment to one segment in /dev/shm, shared with every
other process on the host that opened it (C workers, cachectl, other
Python workers): gets and sets are calls into libhostcache, with no socket
in between.

    import hostcache
    with hostcache.Cache.open("sessions") as cache:
        cache.set("user:42", b"...", ttl=300, tags=["user:42"])
        value = cache.get("user:42")              # bytes, or None
        value = cache.get_or_set("page:/", render, ttl=60)

Keys are bytes or str (encoded as UTF-8); values are bytes-like or str
(UTF-8) and come back as bytes.  TTLs are seconds, int or float (None or 0:
no expiry).  Failures raise HostcacheError (or a subclass) carrying the
library's code and message.  A Cache may be used from several threads, and
across fork(): the child gets a process slot of its own on first use.

The binding is cffi in ABI mode over libhostcache.so, declared from the
library's own header, so nothing is compiled at install time.  It finds
them through HOSTCACHE_LIB and HOSTCACHE_INCLUDE, else in the source tree
this package sits in (build/, include/), else where make install puts them.
"""

import functools
import hashlib
import math
import os
import pickle
import re
import threading

import cffi

__all__ = ["Cache", "HostcacheError", "KeyExists", "CasMismatch",
           "NotANumber", "NoSegment", "SegmentExists", "unlink", "cached"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_TREE = os.path.dirname(os.path.dirname(_HERE))


def _first_existing(candidates):
    for path in candidates:
        if path and os.path.exists(path):
            return path
    return None


def _header_cdef(path):
    """The declarations of hostcache.h, in the form cffi parses: without
    the preprocessor lines, keeping the integer #defines."""
    out, skipping = [], False
    define = re.compile(r"#\s*define\s+(HC_\w+)\s+\(?(-?(?:0x[0-9a-fA-F]+|\d+))"
                        r"[uUlL]*\)?\s*(?:/\*.*)?$")
    for line in open(path, encoding="utf-8").read().splitlines():
        s = line.strip()
        if s.startswith("#"):
            if s.startswith("#ifdef __cplusplus"):
                skipping = True
            elif s.startswith("#endif"):
                skipping = False
            m = define.match(s)
            if m and not skipping:
                out.append("#define %s %s" % (m.group(1), m.group(2)))
            continue
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _load():
    header = _first_existing([
        os.environ.get("HOSTCACHE_INCLUDE") and
        os.path.join(os.environ["HOSTCACHE_INCLUDE"], "hostcache.h"),
        os.path.join(_TREE, "include", "hostcache.h"),
        "/usr/local/include/hostcache.h", "/usr/include/hostcache.h"])
    if header is None:
        raise ImportError("hostcache: hostcache.h not found; set "
                          "HOSTCACHE_INCLUDE to the directory that holds it")
    lib = _first_existing([
        os.environ.get("HOSTCACHE_LIB"),
        os.path.join(_TREE, "build", "libhostcache.so"),
        "/usr/local/lib/libhostcache.so.0", "/usr/lib/libhostcache.so.0"])
    ffi = cffi.FFI()
    ffi.cdef(_header_cdef(header))
    try:
        return ffi, ffi.dlopen(lib or "libhostcache.so.0")
    except OSError as e:
        raise ImportError("hostcache: cannot load libhostcache (%s); build "
                          "it with make, or set HOSTCACHE_LIB to its path"
                          % e) from None


_ffi, _lib = _load()


class HostcacheError(Exception):
    """A call into libhostcache failed: .code is the HC_E* value, .name its
    name, and the message is the library's."""

    def __init__(self, code, message=None):
        self.code = code
        self.name = _CODE_NAMES.get(code, str(code))
        if message is None:
            message = _ffi.string(_lib.hc_strerror(code)).decode()
        super().__init__("%s: %s" % (self.name, message))


class KeyExists(HostcacheError):
    """add() of a key that is present is not an error (it returns False);
    this is raised where a key's presence makes a call impossible."""


class CasMismatch(HostcacheError):
    pass


class NotANumber(HostcacheError):
    """incr/decr of a value that is not a decimal number."""


class NoSegment(HostcacheError):
    pass


class SegmentExists(HostcacheError):
    pass


_hc_get, _hc_set_ex = _lib.hc_get, _lib.hc_set_ex
_ENOTFOUND, _ENEGATIVE, _EBUFSIZE = (_lib.HC_ENOTFOUND, _lib.HC_ENEGATIVE,
                                     _lib.HC_EBUFSIZE)
_CODE_NAMES = {getattr(_lib, n): n for n in dir(_lib)
               if n.startswith("HC_E") and isinstance(getattr(_lib, n), int)}
_CLASSES = {_lib.HC_EEXISTS: KeyExists, _lib.HC_ECASMISMATCH: CasMismatch,
            _lib.HC_ENOTNUM: NotANumber, _lib.HC_ENOSEG: NoSegment,
            _lib.HC_ESEGEXISTS: SegmentExists}


def _raise(rc):
    message = _ffi.string(_lib.hc_last_error()).decode(errors="replace")
    raise _CLASSES.get(rc, HostcacheError)(rc, message or None)


def _check(rc):
    if rc < 0:
        _raise(rc)
    return rc


def _done(rc, *declined):
    """True when a conditional call did its work, False when it returned
    one of the DECLINED codes (the condition did not hold); raises on any
    other error."""
    if rc in declined:
        return False
    _check(rc)
    return True


def _bytes(x, what):
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    raise TypeError("hostcache: %s must be bytes or str, not %s"
                    % (what, type(x).__name__))


def _ms(seconds, what="ttl"):
    """Seconds (int or float, None or 0: none) as the library's ms; a
    positive TTL never rounds down to 0, which would mean no expiry."""
    if seconds is None or seconds == 0:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("hostcache: %s must be seconds as int or float" % what)
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError("hostcache: %s must be a positive number of seconds "
                         "(or 0/None for none), not %r" % (what, seconds))
    return max(1, int(round(seconds * 1000)))


def unlink(name):
    """Remove the segment NAME.  Attached processes keep their mapping."""
    _check(_lib.hc_unlink(_bytes(name, "name")))


def _set_options(ttl, tags):
    """hc_set_options for TTL (seconds) and TAGS, and the cffi objects
    that must stay alive while the options are used."""
    opt = _ffi.new("hc_set_options *")
    opt.ttl_ms = _ms(ttl)
    keep = [_ffi.new("char[]", _bytes(t, "tag")) for t in tags]
    if keep:
        arr = _ffi.new("char *[]", keep)
        opt.tags = arr
        opt.ntags = len(keep)
        keep.append(arr)
    return opt, keep


_CONFIG_FIELDS = ("size", "max_key", "max_value", "max_procs", "mode",
                  "avg_item_size", "ttl_jitter_pct", "clean_watermark_pct",
                  "latency_every", "journal_entries", "writeback_bytes")


class Cache:
    """An attachment to a segment.  Cache.create() or Cache.open(); close()
    (or a with block) detaches."""

    _INITIAL = 64 << 10

    def __init__(self, handle):
        self._c = handle
        self._local = threading.local()

    # -- attaching -------------------------------------------------------

    @classmethod
    def create(cls, name, *, stale_grace=None, delimiter=None, **config):
        """Create segment NAME and attach.  Options as hc_config: size,
        max_key, max_value, max_procs, mode, avg_item_size, ttl_jitter_pct,
        clean_watermark_pct, latency_every, journal_entries,
        writeback_bytes; stale_grace in seconds; delimiter one char."""
        cfg = _ffi.new("hc_config *")
        _lib.hc_config_init(cfg)
        for k, v in config.items():
            if k not in _CONFIG_FIELDS:
                raise TypeError("hostcache: unknown option %r (known: %s, "
                                "stale_grace, delimiter)"
                                % (k, ", ".join(_CONFIG_FIELDS)))
            setattr(cfg, k, v)
        if stale_grace is not None:
            cfg.stale_grace_ms = _ms(stale_grace, "stale_grace")
        if delimiter is not None:
            d = _bytes(delimiter, "delimiter")
            if len(d) != 1:
                raise ValueError("hostcache: delimiter must be one byte")
            cfg.delimiter = d
        out = _ffi.new("hc_cache **")
        _check(_lib.hc_create(_bytes(name, "name"), cfg, out))
        return cls(out[0])

    @classmethod
    def open(cls, name):
        """Attach to the existing segment NAME."""
        out = _ffi.new("hc_cache **")
        _check(_lib.hc_open(_bytes(name, "name"), out))
        return cls(out[0])

    def close(self):
        """Detach (seal this attachment's open block, free its slot)."""
        c, self._c = self._c, None
        if c is not None:
            _check(_lib.hc_close(c))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if self._c is None:
            raise HostcacheError(_lib.HC_EINVAL, "the cache is closed")
        return self._c

    def _buffer(self, need=0):
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < need:
            buf = _ffi.new("char[]", max(need, self._INITIAL))
            self._local.buf = buf
            self._local.vlen = _ffi.new("size_t *")
        return buf

    # -- reads -------------------------------------------------------------

    def _get(self, key, info):
        k = _bytes(key, "key")
        need = 0
        while True:
            buf = self._buffer(need)
            rc = _lib.hc_get_ex(self._handle(), k, len(k), buf, len(buf), info)
            if rc == 0:
                return _ffi.unpack(buf, info.vlen)
            if rc == _lib.HC_EBUFSIZE:
                need = info.vlen  # it grew meanwhile: look again
                continue
            if rc in (_lib.HC_ENOTFOUND, _lib.HC_ENEGATIVE):
                return None
            _raise(rc)

    def get(self, key, default=None):
        """KEY's value as bytes, or DEFAULT on a miss."""
        # The hot path: this thread's buffer and length, one call.
        k = key if type(key) is bytes else _bytes(key, "key")
        local = self._local
        try:
            buf, vlen = local.buf, local.vlen
        except AttributeError:
            buf, vlen = self._buffer(), local.vlen
        rc = _hc_get(self._c or self._handle(), k, len(k), buf, len(buf),
                     vlen)
        if rc == 0:
            return _ffi.unpack(buf, vlen[0])
        if rc == _ENOTFOUND or rc == _ENEGATIVE:
            return default
        if rc != _EBUFSIZE:
            _raise(rc)
        value = self._get(k, _ffi.new("hc_item_info *"))  # a larger one
        return default if value is None else value

    def gets(self, key):
        """(value, cas id) of KEY, or (None, None) on a miss."""
        info = _ffi.new("hc_item_info *")
        value = self._get(key, info)
        return (None, None) if value is None else (value, info.cas)

    def get_item(self, key):
        """KEY's item as a dict, or None on a miss: value (bytes; None for
        a cached "known absent", with negative True), cas, ttl (seconds
        left, None for none), client_flags, and refresh (True when this
        reader should recompute it early: items set with compute=)."""
        info = _ffi.new("hc_item_info *")
        k = _bytes(key, "key")
        need = 0
        while True:
            buf = self._buffer(need)
            rc = _lib.hc_get_ex(self._handle(), k, len(k), buf, len(buf), info)
            if rc == _lib.HC_EBUFSIZE:
                need = info.vlen
                continue
            if rc == _ENOTFOUND:
                return None
            if rc not in (0, _ENEGATIVE):
                _raise(rc)
            return {"value": None if rc else _ffi.unpack(buf, info.vlen),
                    "negative": rc == _ENEGATIVE, "cas": info.cas,
                    "ttl": info.ttl_ms / 1000.0 if info.ttl_ms else None,
                    "client_flags": info.client_flags,
                    "refresh": bool(info.refresh)}

    def __contains__(self, key):
        k = _bytes(key, "key")
        n = _ffi.new("size_t *")
        rc = _lib.hc_get(self._handle(), k, len(k), _ffi.NULL, 0, n)
        return rc == _lib.HC_EBUFSIZE

    # -- writes ------------------------------------------------------------

    def set(self, key, value, ttl=None, tags=(), *, negative=False,
            compute=None, client_flags=0, writeback=False):
        """Store VALUE under KEY (TTL in seconds; up to 4 tags).  NEGATIVE
        caches "known absent" (get() misses, get_item() says negative);
        COMPUTE, the seconds the value took to compute, lets readers
        refresh early (get_item()'s refresh); CLIENT_FLAGS, 32 bits kept
        with the item (memcached's flags); WRITEBACK also queues the write
        for the sidecar to send upstream (a segment created with
        writeback_bytes; a full queue raises and stores nothing).  Returns
        the new item's CAS id."""
        k = key if type(key) is bytes else _bytes(key, "key")
        v = value if type(value) is bytes else _bytes(value, "value")
        if tags or negative or compute or client_flags or writeback:
            opt, keep = _set_options(ttl, tags)
            if negative:
                opt.flags = _lib.HC_ITEM_NEGATIVE
            if compute:
                opt.compute_ms = max(1, int(_ms(compute, "compute")))
            if client_flags:
                if not 0 <= client_flags <= 0xFFFFFFFF:
                    raise ValueError("client_flags must be 0..4294967295")
                opt.client_flags = client_flags
            if writeback:
                opt.writeback = 1
            owner = _ffi.new("uint64_t *")  # opt only points at it
            opt.cas_out = owner
            keep.append(owner)
        else:  # the hot path: this thread's options, no tag strings
            opt = getattr(self._local, "opt", None)
            if opt is None:
                opt = self._local.opt = _ffi.new("hc_set_options *")
                opt.cas_out = self._local.cas = _ffi.new("uint64_t *")
            opt.ttl_ms = _ms(ttl)
            keep = None
        cas = opt.cas_out
        rc = _hc_set_ex(self._c or self._handle(), k, len(k), v, len(v), opt)
        if rc < 0:
            _raise(rc)
        del keep  # the tag strings lived until the call returned
        return cas[0]

    def add(self, key, value, ttl=None):
        """Store only if KEY is absent: True if stored, False if present."""
        k, v = _bytes(key, "key"), _bytes(value, "value")
        return _done(_lib.hc_add(self._handle(), k, len(k), v, len(v),
                                 _ms(ttl)), _lib.HC_EEXISTS)

    def replace(self, key, value, ttl=None):
        """Store only if KEY is present: True if stored, False if absent."""
        k, v = _bytes(key, "key"), _bytes(value, "value")
        return _done(_lib.hc_replace(self._handle(), k, len(k), v, len(v),
                                     _ms(ttl)), _lib.HC_ENOTFOUND)

    def cas(self, key, value, cas, ttl=None):
        """Store only if KEY's CAS id is still CAS (from gets()): True if
        stored, False if it changed or is gone."""
        k, v = _bytes(key, "key"), _bytes(value, "value")
        return _done(_lib.hc_cas(self._handle(), k, len(k), v, len(v),
                                 _ms(ttl), cas, _ffi.NULL),
                     _lib.HC_ECASMISMATCH, _lib.HC_ENOTFOUND)

    def delete(self, key):
        """Remove KEY: True if it was there."""
        k = _bytes(key, "key")
        return _done(_lib.hc_delete(self._handle(), k, len(k)),
                     _lib.HC_ENOTFOUND)

    def _arith(self, fn, key, delta):
        if isinstance(delta, bool) or not isinstance(delta, int) or delta < 0:
            raise ValueError("hostcache: delta must be a non-negative int")
        k = _bytes(key, "key")
        out = _ffi.new("uint64_t *")
        rc = fn(self._handle(), k, len(k), delta, out)
        if rc == _lib.HC_ENOTFOUND:
            return None
        _check(rc)
        return out[0]

    def incr(self, key, delta=1):
        """Add DELTA to KEY's decimal value: the result, or None if absent
        (NotANumber if the value is not a number)."""
        return self._arith(_lib.hc_incr, key, delta)

    def decr(self, key, delta=1):
        """Subtract DELTA, stopping at 0: the result, or None if absent."""
        return self._arith(_lib.hc_decr, key, delta)

    def touch(self, key, ttl):
        """Give KEY a new TTL: True if it was there."""
        k = _bytes(key, "key")
        return _done(_lib.hc_touch(self._handle(), k, len(k), _ms(ttl)),
                     _lib.HC_ENOTFOUND)

    # -- invalidation ------------------------------------------------------

    def invalidate_tag(self, tag):
        """Make every item carrying TAG a miss, for every process."""
        _check(_lib.hc_invalidate_tag(self._handle(), _bytes(tag, "tag")))

    def invalidate_prefix(self, prefix):
        """Make every key starting with PREFIX a miss; returns how many
        items a scan dropped (0 for a prefix ending with the delimiter,
        which is O(1))."""
        p = _bytes(prefix, "prefix")
        count = _ffi.new("uint64_t *")
        _check(_lib.hc_invalidate_prefix(self._handle(), p, len(p), count))
        return count[0]

    def flush(self):
        """Make every item a miss."""
        _check(_lib.hc_flush(self._handle()))

    # -- cache-aside under a lease -----------------------------------------

    def get_or_set(self, key, loader, ttl=None, tags=(), lease=10.0,
                   wait=5.0):
        """KEY's value, or LOADER()'s, stored with TTL and TAGS.  Of all the
        processes that miss KEY at once, one calls LOADER and the others
        wait up to WAIT seconds for its value (then call LOADER
        themselves); LEASE is how long a loader may take before another
        takes over.  A stale value within the segment's grace period is
        returned while one caller refreshes it.  If LOADER raises, the
        lease is given back and the exception propagates."""
        k = _bytes(key, "key")
        info = _ffi.new("hc_item_info *")
        lz = _ffi.new("hc_lease *")
        need = 0
        while True:
            buf = self._buffer(need)
            rc = _lib.hc_get_or_lease(self._handle(), k, len(k), buf,
                                      len(buf), info, _ms(lease, "lease"),
                                      int(wait * 1000) if wait else 0, lz)
            if rc != _lib.HC_EBUFSIZE:
                break
            need = info.vlen
        if rc == 0 and not (info.stale and lz.held):
            return _ffi.unpack(buf, info.vlen)
        if rc == _lib.HC_ENEGATIVE and not lz.held:
            return None
        if rc not in (0, _lib.HC_ENOTFOUND, _lib.HC_ETIMEDOUT,
                      _lib.HC_ENEGATIVE):
            _raise(rc)
        if not lz.held:  # lease table full, or the loader overran WAIT
            value = loader()
            self.set(k, value, ttl=ttl, tags=tags)
            return _bytes(value, "value")
        try:
            value = _bytes(loader(), "value")
        except BaseException:
            _lib.hc_lease_abandon(self._handle(), lz)
            raise
        opt, keep = _set_options(ttl, tags)
        rc = _lib.hc_lease_fill(self._handle(), lz, k, len(k), value,
                                len(value), opt)
        del keep
        if rc not in (0, _lib.HC_ENOLEASE):
            _raise(rc)
        return value

    # -- inspection and upkeep ---------------------------------------------

    @staticmethod
    def _as_dict(ctype, obj):
        return {name: getattr(obj, name) for name, _ in
                _ffi.typeof(ctype).fields}

    def stats(self):
        """The segment's counters and gauges, as hc_stats names them."""
        out = _ffi.new("hc_stats *")
        _check(_lib.hc_stats_get(self._handle(), out))
        return self._as_dict("hc_stats", out)

    def info(self):
        """The segment's static facts (size, block size, slots...)."""
        out = _ffi.new("hc_info *")
        _check(_lib.hc_info_get(self._handle(), out))
        return self._as_dict("hc_info", out)

    def latency(self):
        """Get and set latency since the segment was created, from the one
        operation in `every` each thread times: {"every": N, "get": {"p50":
        ns, "p99": ns, "p999": ns, "timed": count}, "set": {...}}."""
        out = _ffi.new("hc_latency *")
        _check(_lib.hc_latency_get(self._handle(), out))
        result = {"every": out.every}
        for op in ("get", "set"):
            hist = getattr(out, op)
            result[op] = {"timed": sum(hist[i] for i in range(len(hist)))}
            for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
                result[op][name] = _lib.hc_latency_quantile(hist, q)
        return result

    def maintain(self, budget=0.001):
        """Free blocks ahead of the writers for about BUDGET seconds; the
        number of blocks freed."""
        return _check(_lib.hc_maintain(self._handle(),
                                       max(0, int(budget * 1e6))))

    def reap(self):
        """Reclaim the slots of processes that died attached."""
        return _check(_lib.hc_reap(self._handle()))


class _NotStored(Exception):
    """A loader's result that get_or_set must not store (a None that is
    not to be cached)."""


def _call_key(prefix, args, kwargs, limit):
    """A key for one call: PREFIX and the call's arguments, hashed when
    they would not fit in LIMIT bytes."""
    k = ("%s(%r,%r)" % (prefix, args, sorted(kwargs.items()))).encode()
    if len(k) <= limit:
        return k
    return prefix.encode()[:limit - 42] + b"#" + \
        hashlib.sha1(k).hexdigest().encode()


def cached(cache, ttl=None, tags=(), key=None, negative=False, lease=10.0,
           wait=5.0):
    """Cache-aside for a function: its results, pickled, under a key made
    from its module, name and arguments (or KEY(*args, **kwargs)), with TTL
    and TAGS.  Of the processes that miss one key at once, one calls the
    function (the others wait for its result: Cache.get_or_set).  A result
    of None is returned and not stored, unless NEGATIVE, when it is cached
    like any other (so that a missing row is not looked up again until the
    TTL ends).

        @hostcache.cached(cache, ttl=60, tags=["users"])
        def profile(user_id): ...

    Results are pickled: whoever may write the segment (its mode, 0600 by
    default) can make its readers unpickle what it wrote.
    """
    def wrap(fn):
        prefix = "%s.%s" % (fn.__module__, fn.__qualname__)
        limit = cache.info()["max_key"]

        @functools.wraps(fn)
        def call(*args, **kwargs):
            k = key(*args, **kwargs) if key else \
                _call_key(prefix, args, kwargs, limit)

            def load():
                result = fn(*args, **kwargs)
                if result is None and not negative:
                    raise _NotStored()
                return pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
            try:
                return pickle.loads(cache.get_or_set(k, load, ttl=ttl,
                                                     tags=tags, lease=lease,
                                                     wait=wait))
            except _NotStored:
                return None
        return call
    return wrap
