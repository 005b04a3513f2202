#!/usr/bin/env python3
# pop2client.py - a raw-socket POP2 (RFC 937) dialogue driver for the
# integration tests, on top of p23.Conn.  GPL-3.0-or-later.
#
# It sends exactly the bytes a test asks for and checks the framing every
# RFC 937 reply must have (doc/PROTOCOLS.md section 4): a reply
# line starts with '+', '-', '#digits' or '=digits', is at most 512 octets
# with its CRLF, and after RETR exactly "=n" octets follow with nothing
# after them.

import re

import p23

REPLY_MAX = 512
REPLY_RE = re.compile(r'^(?:\+|-|#(\d+)(?: .*)?$|=(\d+)(?: .*)?$)')


def quote(arg: str) -> str:
    """RFC 937 "Quoting": a backslash before every space and backslash."""
    return arg.replace('\\', '\\\\').replace(' ', '\\ ')


def crlf_to_lf(data: bytes) -> bytes:
    return data.replace(b'\r\n', b'\n')


class Pop2(p23.Conn):
    """A POP2 connection.  Every reply line read through reply() is
    checked for RFC 937 framing and kept in .replies."""

    def __init__(self, port, timeout=10, host='127.0.0.1'):
        super().__init__(port, timeout, host)
        self.replies = []

    # --------------------------------------------------------- framing
    def reply(self, timeout=None) -> str:
        raw = self.rawline(timeout)
        if len(raw) > REPLY_MAX:
            raise p23.ProtocolError('reply of %d octets (max %d): %r'
                                    % (len(raw), REPLY_MAX, raw[:80]))
        line = raw[:-2].decode('latin-1')
        if not REPLY_RE.match(line):
            raise p23.ProtocolError('not an RFC 937 reply: %r' % line)
        self.replies.append(line)
        return line

    def cmd(self, s) -> str:
        """Send S + CRLF (S may be bytes), return the reply line."""
        if isinstance(s, str):
            s = s.encode('latin-1')
        self.send(s + b'\r\n')
        return self.reply()

    @staticmethod
    def number(line, indicator) -> int:
        """The number of a '#n' or '=n' reply; fails on anything else."""
        m = re.match(r'^%s(\d+)(?: |$)' % re.escape(indicator), line)
        if not m:
            raise p23.ProtocolError('expected %sn, got %r'
                                    % (indicator, line))
        return int(m.group(1))

    # -------------------------------------------------------- commands
    def greet(self) -> str:
        self.greeting = self.reply()
        return self.greeting

    def helo(self, user, password, raw=False) -> str:
        """HELO with both arguments quoted (unless RAW)."""
        if not raw:
            user, password = quote(user), quote(password)
        return self.cmd('HELO %s %s' % (user, password))

    def login(self, user, password):
        """Greeting + HELO; returns the message count (asserts '#n')."""
        self.greet()
        r = self.helo(user, password)
        self.login_reply = r
        return self.number(r, '#')

    def fold(self, name, raw=False) -> str:
        return self.cmd('FOLD ' + (name if raw else quote(name)))

    def read(self, n=None) -> int:
        """READ [n]; returns the size (asserts '=n')."""
        r = self.cmd('READ' if n is None else 'READ %s' % n)
        return self.number(r, '=')

    def retr(self, size) -> bytes:
        """RETR, then exactly SIZE octets.  Checks that the server sends
        nothing more before the ack (RFC 937: no terminator)."""
        self.send(b'RETR\r\n')
        data = self.read_exact(size)
        if self.buf:
            raise p23.ProtocolError('octets after the message: %r'
                                    % self.buf[:80])
        return data

    def ack(self, kind='ACKS') -> int:
        """ACKS / ACKD / NACK; returns the size of the now current
        message."""
        return self.number(self.cmd(kind), '=')

    def quit(self) -> str:
        return self.cmd('QUIT')

    def fetch(self, n):
        """READ n, RETR: (size, data); data is None for '=0'."""
        size = self.read(n)
        if size == 0:
            return 0, None
        return size, self.retr(size)

    # ---------------------------------------------------------- closes
    def expect_error_close(self, timeout=5.0) -> str:
        """The next reply is '-...' and the server then closes.  Returns
        the '-' line."""
        r = self.reply()
        if not r.startswith('-'):
            raise p23.ProtocolError('expected "-" and close, got %r' % r)
        if not self.closed(timeout):
            raise p23.ProtocolError('server did not close after %r' % r)
        if self.buf:
            raise p23.ProtocolError('data after "-": %r' % self.buf[:80])
        return r

    def cmd_error_close(self, s, timeout=5.0) -> str:
        """Send S; expect '-' then close."""
        if isinstance(s, str):
            s = s.encode('latin-1')
        self.send(s + b'\r\n')
        return self.expect_error_close(timeout)


def session(port, user, password, timeout=10) -> Pop2:
    """A logged-in Pop2 (count in .count)."""
    c = Pop2(port, timeout)
    try:
        c.count = c.login(user, password)
    except Exception:
        c.close()
        raise
    return c


def fetch_all(port, user, password, ack='ACKS', timeout=10):
    """One whole session like fetchmail's: READ n / RETR / ack for every
    message, QUIT.  Returns [(n, size, data)]."""
    out = []
    with session(port, user, password, timeout) as c:
        for n in range(1, c.count + 1):
            size, data = c.fetch(n)
            if data is None:
                continue
            c.ack(ack)
            out.append((n, size, data))
        r = c.quit()
        if not r.startswith('+'):
            raise p23.ProtocolError('QUIT: %r' % r)
        if not c.closed():
            raise p23.ProtocolError('no close after QUIT')
    return out


if __name__ == '__main__':
    # Manual use: pop2client.py PORT USER PASSWORD  -> lists the sizes.
    import sys
    port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with session(port, user, pw) as c:
        print(c.greeting)
        print('%d messages' % c.count)
        for i in range(1, c.count + 1):
            print(i, c.read(i))
        print(c.quit())
