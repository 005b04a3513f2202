/*
 * foldername.c - folder_name_ok(), see foldername.h.  Runs as the mail
 * user, inside the storage plugins.  GPL-3.0-or-later.
 */
#include "config.h"

#include <string.h>

#include "foldername.h"

int
folder_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > FOLDER_NAME_MAX)
		return 0;
	if (name[0] == '~' || name[0] == '.' || strstr(name, "..") != NULL)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}
