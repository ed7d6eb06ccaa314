/* Versioned, validated serialization of struct pred_model. See
 * model_state.h. */
#include "predictor/model_state.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define HDR 8
#define NFLOATS                                                                                    \
	(6 + 1 + 2 + 1 + PRED_MAX_H + PRED_MAX_SEASON + 7 + PRED_MAX_SEASON +                      \
	 PRED_MAX_H * PRED_MAX_H)
#define PAYLOAD (4 + 2 * 4 + NFLOATS * 4)

/* CRC-32 (IEEE 802.3), nibble table: small and fast enough. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	static const uint32_t tab[16] = {
	    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ tab[c & 15];
		c = (c >> 4) ^ tab[c & 15];
	}
	return ~c;
}

struct cursor {
	uint8_t *w;
	const uint8_t *r;
	size_t off;
};

static void put_u32(struct cursor *c, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c->w[c->off++] = (uint8_t)(v >> (8 * i));
}

static void put_u16(struct cursor *c, uint16_t v)
{
	c->w[c->off++] = (uint8_t)v;
	c->w[c->off++] = (uint8_t)(v >> 8);
}

static void put_f(struct cursor *c, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	put_u32(c, v);
}

static uint32_t get_u32(struct cursor *c)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)c->r[c->off++] << (8 * i);
	return v;
}

static uint16_t get_u16(struct cursor *c)
{
	uint16_t v = (uint16_t)(c->r[c->off] | (c->r[c->off + 1] << 8));
	c->off += 2;
	return v;
}

static float get_f(struct cursor *c)
{
	uint32_t v = get_u32(c);
	float f;
	memcpy(&f, &v, 4);
	return f;
}

size_t pred_model_state_size(void)
{
	return HDR + PAYLOAD + 4;
}

long pred_model_encode(const struct pred_model *m, uint8_t *buf, size_t cap)
{
	if (!m || !buf)
		return -EINVAL;
	if (cap < pred_model_state_size())
		return -ENOSPC;
	struct cursor c = {.w = buf};
	memcpy(buf, "SFPM", 4);
	c.off = 4;
	put_u16(&c, PRED_STATE_VERSION);
	put_u16(&c, PAYLOAD);
	put_u32(&c, m->n);
	put_u16(&c, m->season);
	put_u16(&c, m->horizon);
	put_u16(&c, m->pos);
	put_u16(&c, m->flags);
	put_f(&c, m->p.alpha);
	put_f(&c, m->p.beta);
	put_f(&c, m->p.gamma);
	put_f(&c, m->p.phi);
	put_f(&c, m->p.w);
	put_f(&c, m->p.lambda);
	put_f(&c, m->p.delta);
	put_f(&c, m->level);
	put_f(&c, m->trend);
	put_f(&c, m->xmax);
	for (int i = 0; i < PRED_MAX_H; i++)
		put_f(&c, m->sigma[i]);
	for (int i = 0; i < PRED_MAX_SEASON; i++)
		put_f(&c, m->seas[i]);
	for (int i = 0; i < 7; i++)
		put_f(&c, m->week[i]);
	for (int i = 0; i < PRED_MAX_SEASON; i++)
		put_f(&c, m->hist[i]);
	for (int i = 0; i < PRED_MAX_H; i++)
		for (int j = 0; j < PRED_MAX_H; j++)
			put_f(&c, m->pend[i][j]);
	put_u32(&c, crc32_ieee(buf, c.off));
	return (long)c.off;
}

/* Finite and within the range a real state can reach: every log-scale
 * quantity is bounded by log1p(PRED_MAX_COUNT) ~ 34.5 (with margin). */
#define LOG_BOUND 100.0f
static int ok(float v)
{
	return isfinite(v) && fabsf(v) < LOG_BOUND;
}

static int ok_x(float v) /* a log1p count */
{
	return isfinite(v) && v >= 0.0f && v <= (float)log1p(PRED_MAX_COUNT) + 1e-3f;
}

int pred_model_decode(const uint8_t *buf, size_t len, struct pred_model *ret)
{
	if (!buf || !ret || len != pred_model_state_size() || memcmp(buf, "SFPM", 4))
		return -EINVAL;
	struct cursor c = {.r = buf, .off = 4};
	if (get_u16(&c) != PRED_STATE_VERSION || get_u16(&c) != PAYLOAD)
		return -EINVAL;
	struct cursor t = {.r = buf, .off = HDR + PAYLOAD};
	if (get_u32(&t) != crc32_ieee(buf, HDR + PAYLOAD))
		return -EINVAL;
	struct pred_model m;
	memset(&m, 0, sizeof(m));
	m.n = get_u32(&c);
	m.season = get_u16(&c);
	m.horizon = get_u16(&c);
	m.pos = get_u16(&c);
	m.flags = get_u16(&c);
	m.p.alpha = get_f(&c);
	m.p.beta = get_f(&c);
	m.p.gamma = get_f(&c);
	m.p.phi = get_f(&c);
	m.p.w = get_f(&c);
	m.p.lambda = get_f(&c);
	m.p.delta = get_f(&c);
	m.level = get_f(&c);
	m.trend = get_f(&c);
	m.xmax = get_f(&c);
	int bad = pred_params_check(&m.p) || m.season > PRED_MAX_SEASON || m.season == 1 ||
		  m.horizon < 1 || m.horizon > PRED_MAX_H ||
		  (m.season ? m.pos >= m.season : m.pos != 0) || (m.flags & ~PRED_F_NOSEAS) ||
		  !ok(m.level) || !ok(m.trend) || !ok_x(m.xmax);
	for (int i = 0; i < PRED_MAX_H; i++) {
		m.sigma[i] = get_f(&c);
		bad |= !ok(m.sigma[i]) || m.sigma[i] < 0.0f;
	}
	for (int i = 0; i < PRED_MAX_SEASON; i++) {
		m.seas[i] = get_f(&c);
		bad |= !ok(m.seas[i]);
	}
	for (int i = 0; i < 7; i++) {
		m.week[i] = get_f(&c);
		bad |= !ok(m.week[i]);
	}
	for (int i = 0; i < PRED_MAX_SEASON; i++) {
		m.hist[i] = get_f(&c);
		bad |= !ok_x(m.hist[i]);
	}
	for (int i = 0; i < PRED_MAX_H; i++)
		for (int j = 0; j < PRED_MAX_H; j++) {
			m.pend[i][j] = get_f(&c);
			bad |= !(isnan(m.pend[i][j]) || ok(m.pend[i][j]));
		}
	if (bad)
		return -EINVAL;
	*ret = m;
	return 0;
}
