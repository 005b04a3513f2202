/*
 * i18n.h - RFC 6856 (POP3 support for UTF-8) in pure functions: strict
 * UTF-8 validation (RFC 3629), the rule for user names before and after
 * UTF-8 is allowed, the LANG language table and range matching (RFC 4647
 * basic filtering), and the scan that tells whether a message's header
 * section holds 8-bit octets (such a message needs UTF-8 mode).
 * PRIVILEGE: any; used by the pre-auth child (names, LANG), the monitor
 * (names, as root: no I/O there) and the mail-user session (the scan).
 */
#ifndef POP23D_I18N_H
#define POP23D_I18N_H

#include <stddef.h>
#include <sys/types.h>

/* 1 if the LEN octets at S are well-formed UTF-8 (RFC 3629 section 4):
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no truncated sequence.  ASCII is UTF-8.  Else 0. */
int i18n_utf8_valid(const char *s, size_t len);

/*
 * 1 if S may be a login name: not empty, no space, no control character
 * (C0, DEL, and the C1 range U+0080..U+009F, which UTF-8 can encode), and
 * printable ASCII only unless UTF8 is non-zero, when any well-formed
 * UTF-8 is allowed (RFC 6856 section 2.2: "MUST reject UTF-8 usernames
 * ... that fail to comply with the formal syntax in UTF-8").
 */
int i18n_name_ok(const char *s, int utf8);

/* One language the server's replies exist in (RFC 6856 section 3). */
struct i18n_lang {
	const char *tag;	/* RFC 5646 language tag */
	const char *name;	/* the language's name in itself, UTF-8 */
};
/* The table, ended by a NULL tag; the first entry is the default (what
 * "LANG *" selects). */
extern const struct i18n_lang i18n_langs[];

/*
 * The language LANG RANGE selects: "*" gives the default; otherwise the
 * first tag that RANGE matches by RFC 4647 section 3.3.1 basic filtering
 * (equal without regard to case, or RANGE followed by "-" is a prefix of
 * the tag).  NULL when RANGE is not a basic language range (RFC 4647
 * section 2.1: 1*8ALPHA *("-" 1*8alphanum), or "*") or matches nothing.
 */
const struct i18n_lang *i18n_lang_select(const char *range);

/*
 * Read the header section of a stored message (LEN octets at OFF of FD,
 * with pread()) and set *HAS_R to 1 if it holds an octet above 0x7F,
 * else 0.  The header ends at the first empty line (an LF followed by LF
 * or by CR LF); a message without one is all header.  0, or -1 on a read
 * error (nothing known).
 */
int i18n_header_8bit(int fd, off_t off, off_t len, int *has_r);

#endif
