/*
 * crc32c.c - CRC-32C (Castagnoli), as iSCSI defines it (RFC 3720 section
 * 12.1 and appendix B.4): polynomial 0x1EDC6F41, bits reflected (so the
 * table uses 0x82F63B78), initial value all ones, result inverted.
 *
 * Written here because nothing the daemon already links provides it:
 * OpenSSL has no CRC at all, zlib's crc32() uses the other (IEEE)
 * polynomial, GDBM has no record checksum.  CRC-32C is the one with a CPU
 * instruction (SSE4.2 crc32), which matters for a warm login that checks
 * 100 000 index records.  A byte-wise table is the fallback.
 *
 * PRIVILEGE: none of its own; pure computation (the session calls it as
 * the mail user).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY_REFLECTED	0x82f63b78u

static uint32_t crc32c_table[256];
static int crc32c_table_ready;
/* -1 not probed yet, 0 no, 1 yes */
static int crc32c_have_hw = -1;

static void
crc32c_table_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) != 0 ? (c >> 1) ^ CRC32C_POLY_REFLECTED :
			    c >> 1;
		crc32c_table[i] = c;
	}
	crc32c_table_ready = 1;
}

uint32_t
crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;

	if (!crc32c_table_ready)
		crc32c_table_init();
	while (len-- > 0)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_X86	1

/* The crc32 instruction computes exactly this CRC (reflected, no
 * inversion of its own); x86 is little-endian, so an 8-octet load fed to
 * crc32q gives the same result as its octets one by one. */
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t w;
	uint32_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi(c, *p++);
		len--;
	}
	while (len >= 8) {
		memcpy(&w, p, sizeof w);
		c = (uint32_t)__builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = __builtin_ia32_crc32qi(c, *p++);
	return ~c;
}
#endif

int
crc32c_hw(void)
{
	if (crc32c_have_hw == -1) {
#ifdef CRC32C_X86
		__builtin_cpu_init();
		crc32c_have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
		crc32c_have_hw = 0;
#endif
	}
	return crc32c_have_hw;
}

/* Probe the CPU (and build the table if it must be used) once, at
 * start-up in the master: __builtin_cpu_init() and the table write
 * static storage, which in a session would be pages of its own
 * (doc/PERFORMANCE.md, "Idle memory, run 5"). */
static void __attribute__((constructor))
crc32c_probe(void)
{
	if (!crc32c_hw())
		crc32c_table_init();
}

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_X86
	if (crc32c_hw())
		return crc32c_sse42(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}
