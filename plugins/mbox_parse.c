/*
 * mbox_parse.c - find the messages of an mbox file held in a buffer
 * (mboxo and mboxrd as Debian's MDAs write them: exim's appendfile,
 * Postfix local, procmail, anything that uses liblockfile).
 *
 * PRIVILEGE: none of its own; pure code called by the storage plugin in
 * the session (mail user), by the unit tests and by the fuzz target.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Rules (doc/DESIGN.md, "The mbox storage"):
 *   - A separator is a line that starts a buffer or follows a '\n',
 *     begins with "From " and carries a ctime(3)-style date (weekday,
 *     month, day, hh:mm[:ss]) among its words, as c-client's and mutt's
 *     is_from() demand; a body line "From here on ..." is not one.  The
 *     separator line is not part of the message.
 *   - The empty line an MDA writes after each message (before the next
 *     separator or at the end of the file) is not part of it either.
 *   - Content-Length: N in the header is used only where it agrees with
 *     the buffer: the header's end + N is the end of the buffer, or a
 *     separator (after at most one empty line) starts there.  Then the
 *     message ends there, even if its body holds unquoted "From " lines.
 *     Any other value (a lie, 4 GiB, garbage) is ignored.
 *   - c-client's pseudo-message "FOLDER INTERNAL DATA" (the first
 *     message, with an X-IMAP or X-IMAPbase header) is flagged, so the
 *     plugin never shows nor deletes it.
 *   - An X-UIDL: header whose value is a valid UIDL is reported.
 *   - Octets are never changed (no >From un-quoting); NULs, bare CRs and
 *     a missing final newline are ordinary octets.
 */
#include "config.h"

#include "mbox_parse.h"

#include <string.h>

/* Content-Length values this large are lies on any file we could hold. */
#define CLEN_MAX	((uint64_t)1 << 62)

static const char *const wdays[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
	"Sat", "Sun" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int
word_in(const unsigned char *w, size_t len, const char *const *set,
    size_t n)
{
	size_t i;

	if (len != 3)
		return 0;
	for (i = 0; i < n; i++)
		if (memcmp(w, set[i], 3) == 0)
			return 1;
	return 0;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* "h:mm", "hh:mm" or "hh:mm:ss". */
static int
is_time(const unsigned char *w, size_t len)
{
	size_t i = 0, d;

	for (d = 0; i < len && is_digit(w[i]); i++)
		d++;
	if (d < 1 || d > 2 || i >= len || w[i] != ':')
		return 0;
	i++;
	if (i + 2 > len || !is_digit(w[i]) || !is_digit(w[i + 1]))
		return 0;
	i += 2;
	if (i == len)
		return 1;
	if (w[i] != ':' || i + 3 != len || !is_digit(w[i + 1]) ||
	    !is_digit(w[i + 2]))
		return 0;
	return 1;
}

int
mbox_is_from_line(const unsigned char *p, size_t len)
{
	/* The words of the line after "From ": at most this many are
	 * looked at (an address with spaces is rare and short). */
	enum { WORDS = 16 };
	const unsigned char *w[WORDS];
	size_t wl[WORDS], nw = 0, i, k;

	if (len < 5 || memcmp(p, "From ", 5) != 0 ||
	    len > MBOX_FROM_LINE_MAX)
		return 0;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	for (i = 5; i < len && nw < WORDS;) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i >= len)
			break;
		w[nw] = p + i;
		while (i < len && p[i] != ' ' && p[i] != '\t')
			i++;
		wl[nw] = (size_t)(p + i - w[nw]);
		nw++;
	}
	/* weekday month day time */
	for (k = 0; k + 3 < nw; k++) {
		if (!word_in(w[k], wl[k], wdays, 7) ||
		    !word_in(w[k + 1], wl[k + 1], months, 12))
			continue;
		if (wl[k + 2] < 1 || wl[k + 2] > 2 || !is_digit(w[k + 2][0]) ||
		    (wl[k + 2] == 2 && !is_digit(w[k + 2][1])))
			continue;
		if (is_time(w[k + 3], wl[k + 3]))
			return 1;
	}
	return 0;
}

/* The end of the line that starts at POS: the offset of its '\n', or LEN
 * when it has none. */
static size_t
line_end(const unsigned char *buf, size_t len, size_t pos)
{
	const unsigned char *nl = memchr(buf + pos, '\n', len - pos);

	return nl != NULL ? (size_t)(nl - buf) : len;
}

/* Is there a separator line at POS (a line start)? */
static int
sep_at(const unsigned char *buf, size_t len, size_t pos)
{
	size_t e, n;

	if (pos >= len || len - pos < 5 || buf[pos] != 'F')
		return 0;
	n = len - pos;
	if (n > MBOX_FROM_LINE_MAX + 1)
		n = MBOX_FROM_LINE_MAX + 1;
	e = line_end(buf + pos, n, 0);
	if (e > MBOX_FROM_LINE_MAX)
		return 0;
	return mbox_is_from_line(buf + pos, e);
}

/* The next separator at or after POS (a line start), or LEN. */
static size_t
next_sep(const unsigned char *buf, size_t len, size_t pos)
{
	while (pos < len) {
		size_t e;

		if (sep_at(buf, len, pos))
			return pos;
		e = line_end(buf, len, pos);
		if (e >= len)
			return len;
		pos = e + 1;
	}
	return len;
}

/*
 * Length of the empty line an MDA wrote after the message [START, END):
 * a final '\n' after a '\n' (1), or a final "\r\n" after a '\n' (2,
 * a CRLF mbox).  Whatever is left still ends in a newline.  0 if the
 * message does not end in an empty line.
 */
static size_t
trailing_blank(const unsigned char *buf, size_t start, size_t end)
{
	if (end - start >= 2 && buf[end - 1] == '\n' && buf[end - 2] == '\n')
		return 1;
	if (end - start >= 3 && buf[end - 1] == '\n' && buf[end - 2] == '\r' &&
	    buf[end - 3] == '\n')
		return 2;
	return 0;
}

static int
header_is(const unsigned char *p, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)name[i])
			return 0;
	}
	return 1;
}

/* The value of a header line [P, P+LEN) after its "name:": leading and
 * trailing blanks (and a CR) cut. */
static void
header_value(const unsigned char *p, size_t len, size_t namelen,
    const unsigned char **v_r, size_t *vlen_r)
{
	size_t s = namelen, e = len;

	while (s < e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
	    p[e - 1] == '\r'))
		e--;
	*v_r = p + s;
	*vlen_r = e - s;
}

struct hdr_info {
	uint64_t hdr_len;
	int have_clen;
	uint64_t clen;
	int internal_subject, imap_header;
	char uidl[MBOX_UIDL_MAX + 1];
};

/* Scan the header block of the message [START, END). */
static void
scan_header(const unsigned char *buf, size_t start, size_t end,
    struct hdr_info *h)
{
	static const char internal[] = "FOLDER INTERNAL DATA";
	size_t pos = start;

	memset(h, 0, sizeof *h);
	h->hdr_len = end - start;
	while (pos < end) {
		size_t e = line_end(buf, end, pos), len = e - pos;
		const unsigned char *p = buf + pos, *v;
		size_t vlen, i;

		if (len == 0 || (len == 1 && p[0] == '\r')) {
			h->hdr_len = (e < end ? e + 1 : e) - start;
			return;
		}
		if (header_is(p, len, "content-length:")) {
			header_value(p, len, 15, &v, &vlen);
			h->have_clen = vlen > 0 && vlen <= 19;
			h->clen = 0;
			for (i = 0; i < vlen && h->have_clen; i++) {
				if (!is_digit(v[i]))
					h->have_clen = 0;
				else
					h->clen = h->clen * 10 +
					    (uint64_t)(v[i] - '0');
			}
			if (h->clen >= CLEN_MAX)
				h->have_clen = 0;
		} else if (header_is(p, len, "x-uidl:")) {
			header_value(p, len, 7, &v, &vlen);
			if (vlen >= 1 && vlen <= MBOX_UIDL_MAX &&
			    h->uidl[0] == '\0') {
				for (i = 0; i < vlen; i++)
					if (v[i] < 0x21 || v[i] > 0x7e)
						break;
				if (i == vlen) {
					memcpy(h->uidl, v, vlen);
					h->uidl[vlen] = '\0';
				}
			}
		} else if (header_is(p, len, "subject:")) {
			header_value(p, len, 8, &v, &vlen);
			if (vlen >= sizeof internal - 1 &&
			    memmem(v, vlen, internal, sizeof internal - 1)
			    != NULL)
				h->internal_subject = 1;
		} else if (header_is(p, len, "x-imap:") ||
		    header_is(p, len, "x-imapbase:")) {
			h->imap_header = 1;
		}
		if (e >= end)
			break;
		pos = e + 1;
	}
}

/*
 * Does a Content-Length ending the message at P agree with the buffer?
 * Then *NEXT_R is where the next separator (or the end) starts.
 */
static int
clen_agrees(const unsigned char *buf, size_t len, uint64_t p, size_t *next_r)
{
	size_t q;

	if (p > len)
		return 0;
	q = (size_t)p;
	if (q == len) {
		*next_r = len;
		return 1;
	}
	if (q == 0 || buf[q - 1] != '\n')
		return 0;	/* not at a line start */
	if (sep_at(buf, len, q)) {
		*next_r = q;
		return 1;
	}
	if (buf[q] == '\n' && (q + 1 == len || sep_at(buf, len, q + 1))) {
		*next_r = q + 1;
		return 1;
	}
	if (len - q >= 2 && buf[q] == '\r' && buf[q + 1] == '\n' &&
	    (q + 2 == len || sep_at(buf, len, q + 2))) {
		*next_r = q + 2;
		return 1;
	}
	return 0;
}

long
mbox_parse(const unsigned char *buf, size_t len, uint64_t base,
    mbox_msg_fn *fn, void *arg, uint64_t *preamble_r)
{
	size_t pos;
	long n = 0;

	pos = next_sep(buf, len, 0);
	if (preamble_r != NULL)
		*preamble_r = pos;
	while (pos < len) {
		struct mbox_msg m;
		struct hdr_info h;
		size_t body, next, end, e;

		memset(&m, 0, sizeof m);
		e = line_end(buf, len, pos);
		body = e < len ? e + 1 : len;
		next = next_sep(buf, len, body);
		scan_header(buf, body, next, &h);
		end = next;
		/* A Content-Length is believed only when the header block
		 * ended before the next separator and the claimed end agrees
		 * with the buffer; then no empty line is cut from it. */
		if (h.have_clen && h.hdr_len < (uint64_t)(next - body) &&
		    clen_agrees(buf, len, body + h.hdr_len + h.clen, &next)) {
			end = (size_t)(body + h.hdr_len + h.clen);
			m.flags |= MBOX_F_CLEN;
		} else
			end -= trailing_blank(buf, body, end);
		m.from_off = base + pos;
		m.body_off = base + body;
		m.end_off = base + end;
		m.next_off = base + next;
		m.hdr_len = h.hdr_len > end - body ? end - body : h.hdr_len;
		if (h.have_clen)
			m.clen_end = base + body + h.hdr_len + h.clen;
		if (n == 0 && h.internal_subject && h.imap_header)
			m.flags |= MBOX_F_INTERNAL;
		if (h.uidl[0] != '\0') {
			memcpy(m.uidl, h.uidl, sizeof m.uidl);
			m.flags |= MBOX_F_UIDL;
		}
		if (fn != NULL && fn(&m, arg) != 0)
			return -1;
		n++;
		pos = next;
	}
	return n;
}
