/*
 * fuzz.h - helpers shared by the libFuzzer targets of tests/fuzz/ (see
 * doc/RELIABILITY.md, "Fuzzing").  Header-only: each target is one .c file
 * that includes this, defines LLVMFuzzerTestOneInput() and is listed once
 * in Makefile.am (FUZZ_TARGETS).
 *
 * What they give a target: a private scratch directory (removed at exit),
 * an in-memory descriptor holding the fuzz input (a client or a server
 * that sends exactly those octets and then closes), a daemon
 * configuration with the defaults, file helpers, and a copy of an input
 * with the CRC-32C fields of a storage plugin's record made right.
 * Runs as whoever runs the fuzzer; never as part of the daemon.
 */
#ifndef POP23D_FUZZ_H
#define POP23D_FUZZ_H

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <endian.h>
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
#include "crc32c.h"

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

/*
 * The storage plugins' own records (the mbox offset record, the Maildir
 * listing record) are a header of hdr_len octets and the entries after
 * it, and both parts carry a CRC-32C, which stops almost every fuzz
 * input before the checks behind it.  Where the fields are (offsets into
 * the header, all big-endian):
 */
struct fuzz_crc_layout {
	size_t hdr_len;		/* the header; the entries fill the rest */
	size_t len_off;		/* 64 bits, the entries' length (0: none) */
	size_t ents_crc_off;	/* 32 bits, CRC-32C of the entries */
	size_t hdr_crc_off;	/* 32 bits, CRC-32C of the header before it */
};

/*
 * A copy of D[0..N) with those fields made right, in this order: the
 * entries' length (N - hdr_len; where the record has the field), the
 * entries' CRC, then the header's CRC (so it covers the two before).
 * NULL when N < hdr_len or out of memory; the caller frees the copy.
 */
static FUZZ_UNUSED uint8_t *
fuzz_crc_fixed(const uint8_t *d, size_t n, const struct fuzz_crc_layout *l)
{
	uint64_t len;
	uint32_t crc;
	uint8_t *p;

	if (n < l->hdr_len || (p = malloc(n)) == NULL)
		return NULL;
	memcpy(p, d, n);
	if (l->len_off != 0) {
		len = htobe64((uint64_t)(n - l->hdr_len));
		memcpy(p + l->len_off, &len, 8);
	}
	crc = htobe32(crc32c(0, p + l->hdr_len, n - l->hdr_len));
	memcpy(p + l->ents_crc_off, &crc, 4);
	crc = htobe32(crc32c(0, p, l->hdr_crc_off));
	memcpy(p + l->hdr_crc_off, &crc, 4);
	return p;
}

/*
 * ONE on the input as it is (the CRCs stop almost all of them), then on
 * fuzz_crc_fixed()'s copy, if there is one, so that the checks behind
 * the CRCs are fuzzed too.
 */
static FUZZ_UNUSED void
fuzz_crc_twice(const uint8_t *d, size_t n, const struct fuzz_crc_layout *l,
    void (*one)(const uint8_t *, size_t))
{
	uint8_t *fixed;

	one(d, n);
	if ((fixed = fuzz_crc_fixed(d, n, l)) != NULL) {
		one(fixed, n);
		free(fixed);
	}
}

#endif
