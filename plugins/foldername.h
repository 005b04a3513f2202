/*
 * foldername.h - the one rule for POP2 FOLD names that a storage plugin
 * turns into a path below the user's mail (doc/SECURITY.md B13).  Built
 * into each storage plugin that has folders; runs as the mail user.
 * GPL-3.0-or-later.
 */
#ifndef POP23D_FOLDERNAME_H
#define POP23D_FOLDERNAME_H

#define FOLDER_NAME_MAX	255	/* one path component (NAME_MAX) */

/*
 * Is NAME acceptable as a client folder name?  It becomes a single path
 * component, so refuse anything that could be read as a path or hide a
 * file: empty, longer than FOLDER_NAME_MAX, '/', control octets and DEL,
 * a leading '~' or '.', and "..".  1 if acceptable, 0 if not.
 */
int folder_name_ok(const char *name);

#endif
