/*
 * i18n.c - RFC 6856 (POP3 support for UTF-8) in pure functions; see
 * i18n.h.  Nothing here allocates, and only i18n_header_8bit() makes a
 * system call (pread on a descriptor it is given).
 * PRIVILEGE: any: the pre-auth child (USER, APOP, LANG), the monitor as
 * root (the user-name rule, pure computation on a length-checked
 * string), and the mail-user session (the header scan).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "i18n.h"

/* RFC 6856 section 3: at least one language.  Only English is shipped:
 * every reply text is written once, in English (pop3.c), and a second
 * table of translations would have to be kept word for word in step
 * with it.  "i-default" (RFC 2277) names the text a server uses before
 * any negotiation; listing it next to "en" would offer the same text
 * twice.  A translation is one more row here and its texts. */
const struct i18n_lang i18n_langs[] = {
	{ "en", "English" },
	{ NULL, NULL }
};

/* The header scan reads this much at a time (a typical header fits). */
#define SCAN_CHUNK	8192

int
i18n_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, k;
	unsigned long cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return 0;	/* 0x80-0xc1 (a lone continuation,
					 * an overlong lead), 0xf5-0xff */
		if (len - i - 1 < n)
			return 0;	/* truncated */
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
i18n_name_ok(const char *str, int utf8)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len, i;

	if (s == NULL || (len = strlen(str)) == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] == 0x7f)
			return 0;	/* C0 controls, space, DEL */
		if (s[i] >= 0x80 && !utf8)
			return 0;
		/* C1 controls U+0080..U+009F are 0xc2 0x80..0x9f. */
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] <= 0x9f)
			return 0;
	}
	return !utf8 || i18n_utf8_valid(str, len);
}

/* RFC 4647 section 2.1: 1*8ALPHA *("-" 1*8alphanum), or "*". */
static int
basic_range_ok(const char *r)
{
	size_t n = 0;
	int first = 1;

	if (strcmp(r, "*") == 0)
		return 1;
	for (;; r++) {
		if (*r == '-' || *r == '\0') {
			if (n == 0)
				return 0;
			if (*r == '\0')
				return 1;
			n = 0;
			first = 0;
			continue;
		}
		if (!((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') ||
		    (!first && *r >= '0' && *r <= '9')))
			return 0;
		if (++n > 8)
			return 0;
	}
}

const struct i18n_lang *
i18n_lang_select(const char *range)
{
	const struct i18n_lang *l;
	size_t rl;

	if (range == NULL || !basic_range_ok(range))
		return NULL;
	if (strcmp(range, "*") == 0)
		return &i18n_langs[0];
	rl = strlen(range);
	for (l = i18n_langs; l->tag != NULL; l++) {
		if (strcasecmp(l->tag, range) == 0)
			return l;
		if (strlen(l->tag) > rl && l->tag[rl] == '-' &&
		    strncasecmp(l->tag, range, rl) == 0)
			return l;
	}
	return NULL;
}

int
i18n_header_8bit(int fd, off_t off, off_t len, int *has_r)
{
	unsigned char buf[SCAN_CHUNK];
	off_t done = 0;
	ssize_t r;
	size_t i;
	/* 0: inside a line; 1: right after LF; 2: after LF CR */
	int state = 1;

	*has_r = 0;
	while (done < len) {
		size_t want = (size_t)(len - done < (off_t)sizeof buf ?
		    len - done : (off_t)sizeof buf);

		r = pread(fd, buf, want, off + done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (i = 0; i < (size_t)r; i++) {
			unsigned char c = buf[i];

			if (c == '\n' && state != 0)
				return 0;	/* the empty line */
			if (c == '\r' && state == 1) {
				state = 2;
				continue;
			}
			if (c >= 0x80) {
				*has_r = 1;
				return 0;
			}
			state = c == '\n' ? 1 : 0;
		}
		done += r;
	}
	return 0;
}
