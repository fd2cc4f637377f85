// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): small, dependency-free,
// for the example authorizer.
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *message, size_t len,
                 uint8_t out[32]);

#endif
