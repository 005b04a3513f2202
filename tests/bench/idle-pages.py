#!/usr/bin/env python3
# idle-pages.py - which pages a process owns that it inherited from its
# parent, and what was written in them (doc/PERFORMANCE.md, "Idle memory,
# run 5").  GPL-3.0-or-later.
#
#   idle-pages.py PID [PARENT_PID]      (as root; PARENT defaults to PPid)
#
# For every writable mapping of PID it lists the pages that are present
# and mapped only by PID (/proc/PID/pagemap bit 56, "exclusively
# mapped"): for an idle session, the pages that count in full in its PSS.
# Each is compared with the same address in the parent (the master): the
# byte ranges that differ are named by the symbol that covers them (nm of
# the mapped file, so pop23d's own statics are named; stripped libraries
# give "?").  IDENTICAL means the page was written with what it held, or
# the parent wrote it back; "not in parent" is memory the child mapped or
# grew itself.  Where the parent wrote the page after the fork, its copy
# differs as well: compare two children, or the parent before and after
# one more connection, to tell the two apart.

import bisect
import struct
import subprocess
import sys


def read_maps(pid):
    maps = []
    with open('/proc/%d/maps' % pid) as f:
        for line in f:
            p = line.split()
            a, b = [int(x, 16) for x in p[0].split('-')]
            maps.append((a, b, p[1], p[5] if len(p) > 5 else ''))
    return maps


def symbols(maps):
    bases, syms = {}, []
    for a, _, _, name in maps:
        if name.startswith('/') and name not in bases:
            bases[name] = a
    for name, base in bases.items():
        try:
            out = subprocess.run(['nm', '-S', '-n', name],
                                 capture_output=True, text=True).stdout
        except OSError:
            continue
        for line in out.splitlines():
            p = line.split()
            if len(p) == 4:
                syms.append((base + int(p[0], 16), int(p[1], 16),
                             name.split('/')[-1] + ':' + p[3]))
    syms.sort()
    return syms


def main():
    pid = int(sys.argv[1])
    with open('/proc/%d/status' % pid) as f:
        ppid = int([l for l in f if l.startswith('PPid:')][0].split()[1])
    if len(sys.argv) > 2:
        ppid = int(sys.argv[2])
    maps = read_maps(pid)
    syms = symbols(maps)
    keys = [s[0] for s in syms]

    def sym(va):
        i = bisect.bisect_right(keys, va) - 1
        if i >= 0 and syms[i][0] <= va < syms[i][0] + max(syms[i][1], 1):
            return '%s+%x' % (syms[i][2], va - syms[i][0])
        return '?'

    pm = open('/proc/%d/pagemap' % pid, 'rb')
    mem = open('/proc/%d/mem' % pid, 'rb')
    pmem = open('/proc/%d/mem' % ppid, 'rb')
    prev, total = '', 0
    for a, b, perm, name in maps:
        if 'w' not in perm:
            prev = name or prev
            continue
        label = name or ('[anon after %s]' % prev.split('/')[-1])
        for va in range(a, b, 4096):
            pm.seek(va // 4096 * 8)
            v = struct.unpack('Q', pm.read(8))[0]
            if not (v >> 63 & 1 and v >> 56 & 1):
                continue
            total += 1
            mem.seek(va)
            s = mem.read(4096)
            try:
                pmem.seek(va)
                m = pmem.read(4096)
            except OSError:
                m = b''
            if len(m) != 4096:
                print('%x %s +%x: not in parent' % (va, label, va - a))
                continue
            ranges, i = [], 0
            while i < 4096:
                if s[i] != m[i]:
                    j = i
                    while j < 4096 and (s[j] != m[j] or
                                        s[j:j + 16] != m[j:j + 16]):
                        j += 1
                    ranges.append((i, j))
                    i = j
                else:
                    i += 1
            desc = ', '.join('%x-%x %s' % (x, y, sym(va + x))
                             for x, y in ranges[:6])
            print('%x %s +%x: %s' % (va, label, va - a,
                                      desc or 'IDENTICAL'))
        if name:
            prev = name
    print('%d pages (%d KB) mapped by this process alone' % (total,
                                                          total * 4))


if __name__ == '__main__':
    main()
