/* hash.h - FNV-1a, the one hash of licsrv's in-memory tables (seats, rate and
 * connection limits, the heartbeat batch, the log's error sources, the
 * PostgreSQL cache). Not for anything an attacker must not steer: the tables
 * that take client-chosen keys bound their probes. */
#ifndef LICSRV_HASH_H
#define LICSRV_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SRV_FNV64_BASIS 14695981039346656037ull
#define SRV_FNV32_BASIS 2166136261u

/* h continued over n bytes at p: start from SRV_FNV64_BASIS, chain to hash
 * several fields as one string. */
uint64_t srv_fnv1a64(uint64_t h, const void *p, size_t n);
/* h continued over the bytes of a NUL-terminated string (not the NUL). */
uint64_t srv_fnv1a64_str(uint64_t h, const char *s);
/* The 32-bit FNV-1a of n bytes at p. */
uint32_t srv_fnv1a32(const void *p, size_t n);

#endif
