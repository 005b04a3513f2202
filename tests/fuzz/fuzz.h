/*
 * fuzz.h - helpers shared by the libFuzzer targets of tests/fuzz/ (see
 * doc/RELIABILITY.md, "Fuzzing").  Header-only: each target is one .c file
 * that includes this, defines LLVMFuzzerTestOneInput() and is listed once
 * in Makefile.am (FUZZ_TARGETS).
 *
 * What they give a target: a private scratch directory (removed at exit),
 * an in-memory descriptor holding the fuzz input (a client or a server
 * that sends exactly those octets and then closes), a daemon
 * configuration with the defaults, and file helpers.
 * Runs as whoever runs the fuzzer; never as part of the daemon.
 */
#ifndef POP23D_FUZZ_H
#define POP23D_FUZZ_H

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define FUZZ_UNUSED	__attribute__((unused))

/* A setup step that cannot fail on a sane machine: stop loudly. */
static FUZZ_UNUSED __attribute__((noreturn)) void
fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, strerror(errno));
	abort();
}

static FUZZ_UNUSED int
fuzz_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf PATH (no symlinks followed).  0 or -1. */
static FUZZ_UNUSED int
fuzz_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char fuzz_dir_path[256];

static FUZZ_UNUSED void
fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0] != '\0')
		(void)fuzz_rmtree(fuzz_dir_path);
}

/* This process's scratch directory, made on first use, removed at exit. */
static FUZZ_UNUSED const char *
fuzz_dir(void)
{
	const char *tmp;

	if (fuzz_dir_path[0] != '\0')
		return fuzz_dir_path;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/p23fuzz.XXXXXX",
	    tmp);
	if (mkdtemp(fuzz_dir_path) == NULL)
		fuzz_die("mkdtemp");
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* Write LEN octets of P to PATH (created or truncated, MODE).  0 or -1. */
static FUZZ_UNUSED int
fuzz_write_file(const char *path, const void *p, size_t len, mode_t mode)
{
	int fd;
	ssize_t w;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	while (len > 0) {
		if ((w = write(fd, p, len)) <= 0) {
			close(fd);
			return -1;
		}
		p = (const char *)p + w;
		len -= (size_t)w;
	}
	return close(fd);
}

/*
 * A descriptor that reads exactly D[0..N) and then end of file, like a
 * peer that sends the input and closes: poll() says readable at once, so
 * nothing ever waits on it.
 */
static FUZZ_UNUSED int
fuzz_input_fd(const uint8_t *d, size_t n)
{
	int fd;

	if ((fd = memfd_create("fuzz-input", MFD_CLOEXEC)) == -1)
		fuzz_die("memfd_create");
	while (n > 0) {
		ssize_t w = write(fd, d, n);

		if (w <= 0)
			fuzz_die("write memfd");
		d += w;
		n -= (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) == -1)
		fuzz_die("lseek memfd");
	return fd;
}

/* /dev/null for writing: a client that takes every octet at once. */
static FUZZ_UNUSED int
fuzz_null_fd(void)
{
	static int fd = -1;

	if (fd == -1 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		fuzz_die("/dev/null");
	return fd;
}

/*
 * The daemon's configuration with its defaults (config_load() of a file
 * with only a listen line) plus EXTRA ("key = value" lines, may be "").
 */
static FUZZ_UNUSED void
fuzz_config(struct config *cfg, const char *extra)
{
	char path[512], text[1024];
	const char *err;

	snprintf(path, sizeof(path), "%s/pop23d.conf", fuzz_dir());
	snprintf(text, sizeof(text), "listen = pop3 127.0.0.1:0\n"
	    "listen = pop2 127.0.0.1:0\n%s", extra);
	if (fuzz_write_file(path, text, strlen(text), 0600) == -1)
		fuzz_die(path);
	if (config_load(path, cfg, &err) != 0) {
		fprintf(stderr, "fuzz setup: %s\n", err);
		abort();
	}
}

#endif
