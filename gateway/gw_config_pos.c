/*
 * gw_config_pos.c - a small, strict JSON scanner that records the line of
 * every value (for object members, the line of the key) so that config
 * errors can name a line; jansson parses the values, this only locates them.
 * It is iterative, bounded by GW_CONFIG_MAX bytes and GW_CONFIG_DEPTH_MAX
 * nesting, and does not build values or validate UTF-8.
 */
#include "gw_config_int.h"

#include <stdio.h>
#include <string.h>

#define POS_NONE	UINT32_MAX

enum pos_type {
	POS_SCALAR = 0,
	POS_OBJECT,
	POS_ARRAY,
	POS__MAX
};

struct pos_node {
	uint32_t	 parent;	/* container; POS_NONE for the root */
	uint32_t	 line;		/* of the key (members) or the value */
	uint32_t	 key;		/* offset in keys; POS_NONE: no key */
	uint32_t	 keylen;	/* decoded key bytes */
	uint32_t	 index;		/* position inside the parent */
	uint8_t		 type;		/* enum pos_type */
};

struct gw_cfg_pos {
	struct pos_node	*nodes;		/* in document order; [0] is the root */
	size_t		 n;		/* nodes used */
	size_t		 cap;		/* nodes allocated */
	struct cg_buf	 keys;		/* decoded member names, back to back */
};

struct scan {
	const uint8_t	*p;		/* next byte */
	const uint8_t	*end;		/* one past the last byte */
	uint32_t	 line;		/* line of p, from 1 */
	struct gw_cfg_pos *pos;		/* being filled */
	uint32_t	 open[GW_CONFIG_DEPTH_MAX]; /* each container's node */
	uint32_t	 count[GW_CONFIG_DEPTH_MAX]; /* members seen in each */
	size_t		 depth;		/* containers open */
	const char	*name;		/* file name for messages */
	struct cg_err	*err;		/* where failures go */
};

/* ------------------------------------------------------------ rendering */

size_t
gw_cfg_render(const char *s, size_t len, size_t show, char *out,
    size_t outlen)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n = len, i, o = 0;
	bool			 cut = false;

	if (outlen == 0)
		return 0;
	if (len > show) {
		cut = true;
		n = show;
		/* Do not split a UTF-8 sequence: skip back continuations. */
		while (n > 0 && (u[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = (u[i] < 0x20 || u[i] == 0x7f) ? '?' : (char)u[i];
	for (i = 0; cut && i < 3 && o + 1 < outlen; i++)
		out[o++] = '.';
	out[o] = '\0';
	return o;
}

size_t
gw_cfg_key_render(const char *key, size_t len, char *out, size_t outlen)
{
	if (len == 0)
		return gw_cfg_render("\"\"", 2, 2, out, outlen);
	return gw_cfg_render(key, len, GW_CFG_KEY_SHOW, out, outlen);
}

/* The decoded key of a member node (keys.data is NULL until one is added). */
static const char *
node_key(const struct gw_cfg_pos *pos, const struct pos_node *nd)
{
	if (pos->keys.data == NULL)
		return "";
	return (const char *)pos->keys.data + nd->key;
}

/* ------------------------------------------------------------- scanning */

static enum cg_code
syntax(struct scan *s, const char *what)
{
	return cg_err_set(s->err, CG_EINVAL, "%s:%u: syntax error: %s",
	    s->name, s->line, what);
}

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\r' || *s->p == '\n')) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

static enum cg_code
node_add(struct scan *s, uint32_t parent, uint32_t key, uint32_t keylen,
    uint32_t index, uint32_t line, enum pos_type type)
{
	struct gw_cfg_pos	*pos = s->pos;
	struct pos_node		*nodes, *nd;
	size_t			 cap;

	if (pos->n == pos->cap) {
		cap = pos->cap == 0 ? 64 : pos->cap * 2;
		nodes = cg_realloc(pos->nodes, cap * sizeof(*nodes));
		if (nodes == NULL)
			return cg_err_set(s->err, CG_ENOMEM, "out of memory");
		pos->nodes = nodes;
		pos->cap = cap;
	}
	nd = &pos->nodes[pos->n++];
	nd->parent = parent;
	nd->line = line;
	nd->key = key;
	nd->keylen = keylen;
	nd->index = index;
	nd->type = (uint8_t)type;
	return CG_OK;
}

/* Four hex digits after "\u"; p is at the first. */
static bool
hex4(struct scan *s, uint32_t *cp)
{
	uint32_t	 v = 0;
	int		 i, h;

	if (s->end - s->p < 4)
		return false;
	for (i = 0; i < 4; i++) {
		h = cg_hex_digit(s->p[i]);
		if (h < 0)
			return false;
		v = (v << 4) | (uint32_t)h;
	}
	s->p += 4;
	*cp = v;
	return true;
}

static enum cg_code
utf8_put(struct scan *s, struct cg_buf *out, uint32_t cp)
{
	uint8_t	 b[4];
	size_t	 n;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (cg_buf_add(out, b, n, NULL) != CG_OK)
		return cg_err_set(s->err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* "\uXXXX", with a surrogate pair when the first one is high (RFC 8259 7). */
static enum cg_code
unicode_escape(struct scan *s, struct cg_buf *out)
{
	uint32_t	 cp, lo;

	if (!hex4(s, &cp))
		return syntax(s, "bad \\u escape");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return syntax(s, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
			return syntax(s, "lone high surrogate");
		s->p += 2;
		if (!hex4(s, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return syntax(s, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return out == NULL ? CG_OK : utf8_put(s, out, cp);
}

static enum cg_code
simple_escape(struct scan *s, uint8_t c, struct cg_buf *out)
{
	static const char	 from[] = "\"\\/bfnrt";
	static const char	 to[] = "\"\\/\b\f\n\r\t";
	const char		*hit;

	hit = c == '\0' ? NULL : strchr(from, c);
	if (hit == NULL)
		return syntax(s, "bad escape in string");
	if (out != NULL && cg_buf_add(out, &to[hit - from], 1, NULL) != CG_OK)
		return cg_err_set(s->err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* A string; p is at the opening quote.  Decoded into out unless NULL. */
static enum cg_code
scan_string(struct scan *s, struct cg_buf *out)
{
	enum cg_code	 rc = CG_OK;
	uint8_t		 c;

	s->p++;
	while (rc == CG_OK) {
		if (s->p == s->end)
			return syntax(s, "unterminated string");
		c = *s->p++;
		if (c == '"')
			return CG_OK;
		if (c < 0x20)
			return syntax(s, "control character in string");
		if (c != '\\') {
			if (out != NULL &&
			    cg_buf_add(out, &c, 1, NULL) != CG_OK)
				rc = cg_err_set(s->err, CG_ENOMEM,
				    "out of memory");
			continue;
		}
		if (s->p == s->end)
			return syntax(s, "unterminated string");
		c = *s->p++;
		rc = c == 'u' ? unicode_escape(s, out) :
		    simple_escape(s, c, out);
	}
	return rc;
}

static size_t
digits(struct scan *s)
{
	size_t	 n = 0;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		s->p++;
		n++;
	}
	return n;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? (RFC 8259 6) */
static enum cg_code
scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (digits(s) == 0)
		return syntax(s, "bad number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (digits(s) == 0)
			return syntax(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) == 0)
			return syntax(s, "bad number");
	}
	return CG_OK;
}

static enum cg_code
scan_literal(struct scan *s)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t			 i, n;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if ((size_t)(s->end - s->p) >= n &&
		    memcmp(s->p, words[i], n) == 0) {
			s->p += n;
			return CG_OK;
		}
	}
	return syntax(s, "unexpected character");
}

/* Render the path of a node, as the walk would, into out. */
static void
node_path(const struct gw_cfg_pos *pos, uint32_t node, char *out,
    size_t outlen)
{
	uint32_t		 chain[GW_CONFIG_DEPTH_MAX + 2];
	const struct pos_node	*nd, *up;
	char			 seg[GW_CFG_KEY_SHOW + 8];
	size_t			 n = 0, o = 0;

	out[0] = '\0';
	while (node != POS_NONE && pos->nodes[node].parent != POS_NONE &&
	    n < sizeof(chain) / sizeof(chain[0])) {
		chain[n++] = node;
		node = pos->nodes[node].parent;
	}
	while (n > 0 && o + 1 < outlen) {
		nd = &pos->nodes[chain[--n]];
		up = &pos->nodes[nd->parent];
		if (up->type == POS_OBJECT)
			gw_cfg_key_render(node_key(pos, nd), nd->keylen, seg,
			    sizeof(seg));
		else
			snprintf(seg, sizeof(seg), "[%u]", nd->index);
		snprintf(out + o, outlen - o, "%s%s",
		    o > 0 && up->type == POS_OBJECT ? "." : "", seg);
		o += strlen(out + o);
	}
}

/* A value starting at p (whitespace skipped); containers are opened. */
static enum cg_code
scan_value(struct scan *s, uint32_t parent, uint32_t key, uint32_t keylen,
    uint32_t index, uint32_t line)
{
	char		 path[GW_CFG_PATH_MAX];
	enum pos_type	 type = POS_SCALAR;
	enum cg_code	 rc;

	if (s->p == s->end)
		return syntax(s, "expected a value");
	if (*s->p == '{')
		type = POS_OBJECT;
	else if (*s->p == '[')
		type = POS_ARRAY;
	rc = node_add(s, parent, key, keylen, index, line, type);
	if (rc != CG_OK)
		return rc;
	if (type == POS_SCALAR) {
		if (*s->p == '"')
			return scan_string(s, NULL);
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return scan_literal(s);
	}
	if (s->depth == GW_CONFIG_DEPTH_MAX) {
		node_path(s->pos, (uint32_t)(s->pos->n - 1), path,
		    sizeof(path));
		return cg_err_set(s->err, CG_ETOOBIG,
		    "%s:%u: %s: nesting deeper than %d levels", s->name, line,
		    path, GW_CONFIG_DEPTH_MAX);
	}
	s->open[s->depth] = (uint32_t)(s->pos->n - 1);
	s->count[s->depth] = 0;
	s->depth++;
	s->p++;
	return CG_OK;
}

/* "key": value inside the innermost open object. */
static enum cg_code
scan_member(struct scan *s, uint32_t node, size_t d)
{
	size_t		 off = s->pos->keys.len;
	uint32_t	 line = s->line;
	enum cg_code	 rc;

	if (s->p == s->end || *s->p != '"')
		return syntax(s, "expected a string key");
	rc = scan_string(s, &s->pos->keys);
	if (rc != CG_OK)
		return rc;
	skip_ws(s);
	if (s->p == s->end || *s->p != ':')
		return syntax(s, "expected ':'");
	s->p++;
	skip_ws(s);
	return scan_value(s, node, (uint32_t)off,
	    (uint32_t)(s->pos->keys.len - off), s->count[d]++, line);
}

/* One step inside the innermost container: a member, element or close. */
static enum cg_code
scan_step(struct scan *s)
{
	size_t		 d = s->depth - 1;
	uint32_t	 node = s->open[d];
	bool		 obj = s->pos->nodes[node].type == POS_OBJECT;

	skip_ws(s);
	if (s->p == s->end)
		return syntax(s, "unexpected end of input");
	if (*s->p == (obj ? '}' : ']')) {
		s->p++;
		s->depth--;
		return CG_OK;
	}
	if (s->count[d] > 0) {
		if (*s->p != ',')
			return syntax(s, obj ? "expected ',' or '}'" :
			    "expected ',' or ']'");
		s->p++;
		skip_ws(s);
	}
	if (obj)
		return scan_member(s, node, d);
	return scan_value(s, node, POS_NONE, 0, s->count[d]++, s->line);
}

enum cg_code
gw_cfg_pos_scan(const char *name, const uint8_t *data, size_t len,
    struct gw_cfg_pos **posp, struct cg_err *err)
{
	struct scan		 s;
	struct gw_cfg_pos	*pos;
	enum cg_code		 rc;

	*posp = NULL;
	if (len > GW_CONFIG_MAX)
		return cg_err_set(err, CG_ETOOBIG, "%s: larger than %d bytes",
		    name, GW_CONFIG_MAX);
	pos = cg_calloc(1, sizeof(*pos));
	if (pos == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* Decoded keys are never longer than their escaped text. */
	cg_buf_init(&pos->keys, len + 1);
	memset(&s, 0, sizeof(s));
	s.p = data;
	s.end = data + len;
	s.line = 1;
	s.pos = pos;
	s.name = name;
	s.err = err;
	skip_ws(&s);
	rc = scan_value(&s, POS_NONE, POS_NONE, 0, 0, s.line);
	while (rc == CG_OK && s.depth > 0)
		rc = scan_step(&s);
	if (rc != CG_OK)
		goto out;
	skip_ws(&s);
	if (s.p != s.end) {
		rc = syntax(&s, "trailing characters after the value");
		goto out;
	}
	*posp = pos;
	pos = NULL;
	rc = CG_OK;
out:
	gw_cfg_pos_free(pos);
	return rc;
}

void
gw_cfg_pos_free(struct gw_cfg_pos *pos)
{
	if (pos == NULL)
		return;
	cg_free(pos->nodes);
	cg_buf_cleanup(&pos->keys);
	cg_free(pos);
}

size_t
gw_cfg_pos_count(const struct gw_cfg_pos *pos)
{
	return pos == NULL ? 0 : pos->n;
}

/* ------------------------------------------------------------- lookups */

/* The element [i] of array node at *restp; advances past "[i]". */
static uint32_t
find_element(const struct gw_cfg_pos *pos, uint32_t node, const char **restp)
{
	const char	*rest = *restp, *close;
	uint64_t	 idx;
	size_t		 i;

	if (rest[0] != '[')
		return POS_NONE;
	close = strchr(rest, ']');
	if (close == NULL ||
	    !cg_parse_u64(rest + 1, (size_t)(close - rest - 1), UINT32_MAX,
	    &idx))
		return POS_NONE;
	for (i = node + 1; i < pos->n; i++) {
		if (pos->nodes[i].parent == node &&
		    pos->nodes[i].index == idx) {
			*restp = close[1] == '.' ? close + 2 : close + 1;
			return (uint32_t)i;
		}
	}
	return POS_NONE;
}

/*
 * The member of object node whose rendered key starts *restp and ends at a
 * path boundary; the longest such key wins (keys may hold '.').
 */
static uint32_t
find_member(const struct gw_cfg_pos *pos, uint32_t node, const char **restp)
{
	const struct pos_node	*nd;
	const char		*rest = *restp;
	char			 key[GW_CFG_KEY_SHOW + 8];
	uint32_t		 best = POS_NONE;
	size_t			 i, n, bestlen = 0;

	for (i = node + 1; i < pos->n; i++) {
		nd = &pos->nodes[i];
		if (nd->parent != node)
			continue;
		n = gw_cfg_key_render(node_key(pos, nd), nd->keylen, key,
		    sizeof(key));
		if (strncmp(rest, key, n) != 0 ||
		    (rest[n] != '\0' && rest[n] != '.' && rest[n] != '['))
			continue;
		if (best == POS_NONE || n > bestlen) {
			best = (uint32_t)i;
			bestlen = n;
		}
	}
	if (best == POS_NONE)
		return POS_NONE;
	rest += bestlen;
	if (*rest == '.')
		rest++;
	*restp = rest;
	return best;
}

int
gw_cfg_pos_line(const struct gw_cfg_pos *pos, const char *path)
{
	const char	*rest = path;
	uint32_t	 node = 0;

	if (pos == NULL || pos->n == 0)
		return 0;
	while (*rest != '\0' && node != POS_NONE) {
		switch (pos->nodes[node].type) {
		case POS_OBJECT:
			node = find_member(pos, node, &rest);
			break;
		case POS_ARRAY:
			node = find_element(pos, node, &rest);
			break;
		default:
			node = POS_NONE;
			break;
		}
	}
	return node == POS_NONE ? 0 : (int)pos->nodes[node].line;
}
