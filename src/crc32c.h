/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of iSCSI (RFC 3720
 * section 12.1 and appendix B.4), ext4 and SCTP.  The GDBM index uses it
 * to check every record (index.c).
 */
#ifndef POP23D_CRC32C_H
#define POP23D_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue the CRC-32C CRC (0 to start) over LEN octets at BUF and return
 * the new value.  Chains like zlib's crc32(): crc32c(crc32c(0, a), b) is
 * the CRC of a followed by b.  The check value of "123456789" is
 * 0xe3069283.  Uses the SSE4.2 crc32 instruction when the CPU has it,
 * else a table.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The table version, always (for the tests). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Non-zero if crc32c() uses the CPU's crc32 instruction (for the tests). */
int crc32c_hw(void);

#endif
