/*
 * bridge_util.c - ids, the id map, frames, and turning events rows into
 * frames. Nothing here touches loop state, so the stream and pool threads
 * use it too.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridge.h"
#include "core/jsonx.h"
#include "core/strbuf.h"
#include "core/hexdigit.h"
#include "core/xalloc.h"
#include "core/banned.h"

int
bid_parse(const char *s, struct bid *out)
{
	size_t j = 0;

	if (!s || strlen(s) != 36)
		return -1;
	for (size_t i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		hi = hexdigit_value((unsigned char)s[i]);
		lo = hexdigit_value((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out->b[j++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

const char *const bid_group_names[] = {
	"groupId", "group_id", "chatroomId", "chatroom_id", "conversationId",
	"conversation_id", NULL
};

const char *const bid_message_names[] = {
	"messageId", "message_id", "id", NULL
};

int
bid_target(const json_t *data, const char *const *const *fields,
	struct bid *out, struct bid_why *why)
{
	const char *bad;
	json_t *v;

	for (int i = 0; fields[i]; i++) {
		if (jsonx_field(data, fields[i], &v, &bad) == -1) {
			why->code = "VALIDATION_ERROR";
			why->message = jsonx_disagree_buf(why->buf, data,
			    fields[i], bad);
			return -1;
		}
		if (!json_is_string(v))
			continue;
		if (bid_parse(json_string_value(v), out) == 0)
			return i;
		why->code = "NOT_FOUND";
		why->message = why->unknown;
		return -1;
	}
	why->code = "VALIDATION_ERROR";
	why->message = why->missing;
	return -1;
}

void
bid_format(const struct bid *id, char out[IDS_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id->b[i] >> 4];
		out[o++] = hex[id->b[i] & 15];
	}
	out[o] = '\0';
}

int
bid_eq(const struct bid *a, const struct bid *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

int
bid_is_zero(const struct bid *a)
{
	static const struct bid zero;

	return bid_eq(a, &zero);
}

/*
 * SipHash-2-4 of the 16 bytes under a key drawn at start. Keys are not
 * only UUIDs: the connection-attempt map holds client addresses, which a
 * client chooses (an IPv6 /64 is its first 8 bytes, the rest zero), so
 * every byte counts and nobody can compute colliding keys in advance.
 */
static uint64_t hash_k0, hash_k1;

void
bid_hash_seed(void)
{
	uint64_t k[2];

	ids_random(k, sizeof(k));
	hash_k0 = k[0];
	hash_k1 = k[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND() do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static size_t
bid_hash(const struct bid *k)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ hash_k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ hash_k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ hash_k0;
	uint64_t v3 = 0x7465646279746573ULL ^ hash_k1;
	uint64_t m[3];

	memcpy(&m[0], k->b, 8);
	memcpy(&m[1], k->b + 8, 8);
	m[2] = (uint64_t)16 << 56; /* the length, no tail */
	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND();
		SIPROUND();
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND();
	return (size_t)(v0 ^ v1 ^ v2 ^ v3);
}

void
bmap_init(struct bmap *m)
{
	m->slots = NULL;
	m->cap = m->n = 0;
}

void
bmap_release(struct bmap *m)
{
	free(m->slots);
	bmap_init(m);
}

static struct bmap_slot *
find(const struct bmap *m, const struct bid *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = bid_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct bmap_slot *s = &m->slots[i];

		if (!s->val || bid_eq(&s->key, key))
			return s;
	}
}

void *
bmap_get(const struct bmap *m, const struct bid *key)
{
	struct bmap_slot *s = find(m, key);

	return s ? s->val : NULL;
}

static void
grow(struct bmap *m)
{
	struct bmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap = oldcap ? oldcap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->n = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].val)
			bmap_put(m, &old[i].key, old[i].val);
	free(old);
}

void
bmap_put(struct bmap *m, const struct bid *key, void *val)
{
	struct bmap_slot *s;

	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	s = find(m, key);
	if (!s->val)
		m->n++;
	s->key = *key;
	s->val = val;
}

void *
bmap_del(struct bmap *m, const struct bid *key)
{
	struct bmap_slot *s = find(m, key);
	size_t i, j;
	void *val;

	if (!s || !s->val)
		return NULL;
	val = s->val;
	/* Backward-shift deletion keeps probe chains intact. */
	i = (size_t)(s - m->slots);
	for (j = (i + 1) & (m->cap - 1); m->slots[j].val;
	    j = (j + 1) & (m->cap - 1)) {
		size_t home = bid_hash(&m->slots[j].key) & (m->cap - 1);

		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].val = NULL;
	m->n--;
	return val;
}

struct frame *
frame_new(const char *text, size_t len, int ephemeral)
{
	struct frame *f = xmalloc(sizeof(*f) + LWS_PRE + len + 1);

	f->refs = 1;
	f->ephemeral = (uint8_t)(ephemeral != 0);
	f->len = (uint32_t)len;
	f->seq = 0;
	f->created_ms = 0;
	memcpy(f->buf + LWS_PRE, text, len);
	f->buf[LWS_PRE + len] = '\0';
	return f;
}

void
frame_unref(struct frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

void
json_quote(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	strbuf_add(sb, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		strbuf_add(sb, run, (size_t)(s - run));
		run = s + 1;
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			strbuf_add(sb, esc, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			strbuf_add(sb, esc, 6);
		}
	}
	strbuf_add(sb, run, (size_t)(s - run));
	strbuf_add(sb, "\"", 1);
}

struct frame *
frame_event(const char *type, int64_t seq, const char *data, size_t data_len,
	int ephemeral)
{
	struct strbuf sb = STRBUF_INIT;
	struct frame *f;

	strbuf_adds(&sb, "{\"type\":");
	json_quote(&sb, type);
	if (seq > 0)
		strbuf_addf(&sb, ",\"seq\":%lld", (long long)seq);
	strbuf_adds(&sb, ",\"data\":");
	if (data && data_len)
		strbuf_add(&sb, data, data_len);
	else
		strbuf_adds(&sb, "{}");
	strbuf_add(&sb, "}", 1);
	f = frame_new(sb.buf, sb.len, ephemeral);
	f->seq = seq;
	strbuf_release(&sb);
	return f;
}

/*
 * Event types that change who is in a room. The services name the member
 * and the conversation in the payload; the spellings below are the ones the
 * seeds and our services use.
 */
static const struct {
	const char *type;
	enum member_effect effect;
} member_types[] = {
	{ "group:member:join", ME_JOIN },
	{ "group:member:add", ME_JOIN },
	{ "group:member:added", ME_JOIN },
	{ "group:join", ME_JOIN },
	{ "conversation:join", ME_JOIN },
	{ "conversation:created", ME_JOIN },
	{ "group:member:leave", ME_LEAVE },
	{ "group:member:remove", ME_LEAVE },
	{ "group:member:removed", ME_LEAVE },
	{ "group:member:kick", ME_LEAVE },
	{ "group:leave", ME_LEAVE },
	{ "conversation:leave", ME_LEAVE },
	{ "group:delete", ME_DROP },
	{ "group:deleted", ME_DROP },
	{ "conversation:delete", ME_DROP },
	{ "conversation:deleted", ME_DROP },
};

static const char *
first_str(const json_t *obj, const char *const *names)
{
	for (; *names; names++) {
		const char *dot = strchr(*names, '.');
		json_t *v;

		if (dot) {
			char outer[32];
			size_t n = (size_t)(dot - *names);

			if (n >= sizeof(outer))
				continue;
			memcpy(outer, *names, n);
			outer[n] = '\0';
			v = json_object_get(obj, outer);
			v = json_is_object(v) ? json_object_get(v, dot + 1) : NULL;
		} else {
			v = json_object_get(obj, *names);
		}
		if (json_is_string(v))
			return json_string_value(v);
	}
	return NULL;
}

static void
parse_membership(struct bevent *ev, enum member_effect hint,
	const char *payload, size_t len)
{
	static const char *const user_keys[] = { "userId", "user_id",
		"memberId", "member_id", "user.id", "member.userId",
		"member.id", NULL };
	static const char *const conv_keys[] = { "groupId", "group_id",
		"conversationId", "conversation_id", "chatroomId", "group.id",
		"conversation.id", NULL };
	static const char *const peer_keys[] = { "peerId", "peer_id",
		"otherUserId", "receiverId", "receiver_id", NULL };
	static const char *const kind_keys[] = { "kind", "conversationKind",
		"conversation.kind", "group.kind", NULL };
	json_t *data = json_loadb(payload, len, JSON_DECODE_ANY, NULL);
	const char *s;

	ev->effect = ME_NONE;
	if (!json_is_object(data))
		goto out;
	if (ev->kind == TARGET_CONVERSATION)
		ev->conv = ev->target;
	else if (!(s = first_str(data, conv_keys)) || bid_parse(s, &ev->conv))
		goto out;
	if (hint == ME_DROP) {
		ev->effect = ME_DROP;
		goto out;
	}
	if ((s = first_str(data, user_keys)) && bid_parse(s, &ev->member) == 0)
		;
	else if (ev->kind == TARGET_USER)
		ev->member = ev->target;
	else
		goto out;
	s = first_str(data, kind_keys);
	if (s && strcmp(s, "DIRECT") == 0) {
		ev->direct = 1;
		if (!(s = first_str(data, peer_keys)) ||
		    bid_parse(s, &ev->peer) == -1)
			memset(&ev->peer, 0, sizeof(ev->peer));
	}
	ev->effect = (uint8_t)hint;
out:
	json_decref(data);
}

int
bevent_from_row(struct bevent *ev, int64_t pos, const char *kind,
	const char *target, const char *type, const char *payload,
	size_t payload_len, int64_t created_ms)
{
	memset(ev, 0, sizeof(*ev));
	if (!kind || !target || !type || !payload)
		return -1;
	ev->pos = pos;
	ev->kind = strcmp(kind, "USER") == 0 ? TARGET_USER : TARGET_CONVERSATION;
	if (bid_parse(target, &ev->target) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(member_types) / sizeof(member_types[0]); i++)
		if (strcmp(type, member_types[i].type) == 0) {
			parse_membership(ev, member_types[i].effect, payload,
			    payload_len);
			break;
		}
	ev->frame = frame_event(type, pos, payload, payload_len, 0);
	ev->frame->created_ms = created_ms;
	return 0;
}

void
bevent_release(struct bevent *ev)
{
	frame_unref(ev->frame);
	ev->frame = NULL;
}
