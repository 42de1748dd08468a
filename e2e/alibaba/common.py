"""What every part of the emulator shares: the error type, the clock, identifiers, time formats."""
import datetime as dt
import os
import secrets
import string
import threading
import time

HOSTS = {"ram": "ram.aliyuncs.com", "ims": "ims.aliyuncs.com", "sts": "sts.aliyuncs.com",
         "ecs": "ecs.aliyuncs.com"}


class ApiError(Exception):
    """An Alibaba-style error: HTTP status, Code, Message. `extra` adds fields to the JSON body
    (e.g. AccessDeniedDetail)."""

    def __init__(self, status, code, message, extra=None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


def missing(name):
    return ApiError(400, "MissingParameter",
                    f'The input parameter "{name}" that is mandatory for processing this request is not supplied.')


def invalid(code, message):
    return ApiError(400, code, message)


class Clock:
    """The emulator's notion of now: real time plus an offset, or frozen at an instant.
    Everything that checks time (x-acs-date, token expiry, SAML validity, acs:CurrentTime) asks it."""

    def __init__(self):
        self._lock = threading.Lock()
        self.offset = 0.0
        self.frozen = None

    def now(self):
        with self._lock:
            t = self.frozen if self.frozen is not None else time.time() + self.offset
        return dt.datetime.fromtimestamp(t, dt.timezone.utc)

    def set(self, offset_seconds=None, frozen_at=None, freeze=None, reset=False):
        with self._lock:
            if reset:
                self.offset, self.frozen = 0.0, None
            if offset_seconds is not None:
                self.offset = float(offset_seconds)
                if self.frozen is not None:
                    self.frozen = time.time() + self.offset
            if frozen_at is not None:
                self.frozen = parse_time(frozen_at).timestamp()
            if freeze is True and self.frozen is None:
                self.frozen = time.time() + self.offset
            if freeze is False:
                self.frozen = None

    def describe(self):
        n = self.now()
        return {"now": iso(n), "offset_seconds": self.offset, "frozen": self.frozen is not None}


def iso(t):
    """Alibaba's time format: 2026-11-23T15:31:57Z. What strftime("%Y-%m-%dT%H:%M:%SZ") writes,
    without its struct_time and wcsftime round trip (a few microseconds, twice per credential)."""
    t = t.astimezone(dt.timezone.utc)
    return f"{t.year}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_time(text):
    """ISO 8601 (Z or offset, optional fraction) -> aware datetime; ValueError if not."""
    s = text.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(s)
    if t.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return t


def request_id():
    """A random (version 4) UUID in upper case, as str(uuid.uuid4()).upper() writes it, from the
    random pool below instead of one os.urandom call and a uuid.UUID each."""
    b = bytearray(random_bytes(16))
    b[6] = b[6] & 0x0F | 0x40  # version 4
    b[8] = b[8] & 0x3F | 0x80  # RFC 4122 variant
    h = b.hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def numeric_id(digits=19):
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(digits - 1))


_TABLES = {}  # alphabet -> (byte translation table, bytes to drop)


def random_text(n, alphabet=string.ascii_letters + string.digits):
    """n characters drawn uniformly from an ASCII alphabet, from os.urandom (what secrets uses):
    random bytes below the largest multiple of len(alphabet) map to alphabet[b % len], the rest are
    dropped (rejection, so no bias). One C-level translate instead of a secrets.choice per
    character, which had been half of an AssumeRoleWithSAML's time (a 200-character token each)."""
    t = _TABLES.get(alphabet)
    if t is None:
        k = len(alphabet)
        assert 0 < k <= 256 and alphabet.isascii()
        limit = 256 - 256 % k
        t = _TABLES[alphabet] = (bytes(ord(alphabet[b % k]) if b < limit else 0 for b in range(256)),
                                 bytes(range(limit, 256)))
    out = b""
    while len(out) < n:
        out += random_bytes(n + n // 4 + 8).translate(*t)
    return out[:n].decode()


_pool = threading.local()
POOL_SIZE = 8192


def random_bytes(n):
    """n bytes from os.urandom, taken from a per-thread buffer filled 8 KiB at a time: an
    AssumeRoleWithSAML needs four draws (request id, key id, secret, token), and each os.urandom
    is a getrandom() system call that lets go of the GIL, i.e. a hand-off to (and back from) one of
    the other server threads. The bytes are os.urandom's all the same, each used once."""
    if n > POOL_SIZE // 4:
        return os.urandom(n)
    buf = getattr(_pool, "buf", b"")
    pos = getattr(_pool, "pos", 0)
    if pos + n > len(buf):
        buf, pos = os.urandom(POOL_SIZE), 0
        _pool.buf = buf
    _pool.pos = pos + n
    return buf[pos:pos + n]
