/* Persistence of a model's state (so that a restart does not forget).
 *
 * Blob layout, little-endian, PRED_STATE_SIZE bytes:
 *   0  "SFPM" magic          4  u16 version (1)     6  u16 payload length
 *   8  payload: the fields of struct pred_model in declaration order, each
 *      float as IEEE-754 binary32, integers as u32/u16
 *   .. u32 CRC-32 (IEEE) of bytes [0, end of payload)
 * Decoding checks magic, version, length, CRC and every field's range
 * (parameters, season, horizon, position, finite values), so a truncated,
 * corrupted or foreign blob is rejected with -EINVAL and the destination
 * model is left untouched. */
#ifndef SHADOWFS_PREDICTOR_MODEL_STATE_H
#define SHADOWFS_PREDICTOR_MODEL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "predictor/model.h"

#define PRED_STATE_VERSION 1

/* Bytes needed by pred_model_encode(). */
size_t pred_model_state_size(void);

/* Writes the blob into buf (cap bytes). Returns its size, or -ENOSPC. */
long pred_model_encode(const struct pred_model *m, uint8_t *buf, size_t cap);

/* Reads a blob of len bytes into *ret. 0 or -EINVAL. */
int pred_model_decode(const uint8_t *buf, size_t len, struct pred_model *ret);

#endif
