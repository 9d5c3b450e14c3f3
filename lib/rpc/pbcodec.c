/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf-c glue: arena allocator, size-limited decode, UTF-8 checks, encode into a capped writer. */
#include "pbcodec.h"
#include "enc.h"

#include <string.h>

static void *arena_pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size ? size : 1);
}

static void arena_pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

void pb_arena_allocator(ProtobufCAllocator *alloc, struct arena *a)
{
	alloc->alloc = arena_pb_alloc;
	alloc->free = arena_pb_free;
	alloc->allocator_data = a;
}

static int field_strings_valid(const ProtobufCFieldDescriptor *f, const void *member)
{
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(char *const *)member;
		return !s || utf8_valid(s, strlen(s));
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
		return !sub || pb_strings_valid(sub);
	}
	return 1;
}

int pb_strings_valid(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t count = *(const size_t *)(base + f->quantifier_offset);
			char *const *arr = *(char *const *const *)(base + f->offset);
			for (size_t k = 0; k < count; k++)
				if (!field_strings_valid(f, &arr[k]))
					return 0;
		} else if (!field_strings_valid(f, base + f->offset)) {
			return 0;
		}
	}
	return 1;
}

static int get_varint(struct buf_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (buf_get_u8(r, &b))
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/*
 * protobuf-c recurses once per nested message with no limit of its own, so a
 * small input nesting a recursive type thousands deep would exhaust the
 * stack. Walk the wire format first (cheap, no allocation) and refuse nesting
 * deeper than PB_MAX_DEPTH.
 */
#define PB_MAX_DEPTH 32

static err_t check_depth(const ProtobufCMessageDescriptor *d, struct buf_reader *r, unsigned depth)
{
	if (depth > PB_MAX_DEPTH)
		return ERR_PROTO_DEPTH;
	while (buf_remaining(r)) {
		uint64_t key, v;
		if (get_varint(r, &key))
			return ERR_PROTO_PROTOBUF;
		switch (key & 7) {
		case 0:
			if (get_varint(r, &v))
				return ERR_PROTO_PROTOBUF;
			break;
		case 1:
			if (buf_skip(r, 8))
				return ERR_PROTO_PROTOBUF;
			break;
		case 5:
			if (buf_skip(r, 4))
				return ERR_PROTO_PROTOBUF;
			break;
		case 2: {
			struct buf_reader sub;
			const ProtobufCFieldDescriptor *f;
			if (get_varint(r, &v) || v > buf_remaining(r) || buf_get_sub(r, (size_t)v, &sub))
				return ERR_PROTO_PROTOBUF;
			f = key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				err_t err = check_depth(f->descriptor, &sub, depth + 1);
				if (err)
					return err;
			}
			break;
		}
		default:
			/* Groups (3, 4) are not proto3; 6 and 7 do not exist. */
			return ERR_PROTO_PROTOBUF;
		}
	}
	return ERR_OK;
}

err_t pb_decode(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, size_t max, struct arena *a,
		ProtobufCMessage **out)
{
	struct buf_reader r;
	err_t err;

	ProtobufCAllocator alloc;
	ProtobufCMessage *m;

	*out = NULL;
	if (n > max)
		return ERR_PROTO_TOO_LARGE;
	buf_reader_init(&r, p, n);
	err = check_depth(d, &r, 0);
	if (err)
		return err;
	pb_arena_allocator(&alloc, a);
	m = protobuf_c_message_unpack(d, &alloc, n, p);
	if (!m)
		return a->exhausted ? ERR_BUDGET : ERR_PROTO_PROTOBUF;
	if (!pb_strings_valid(m))
		return ERR_PROTO_ENCODING;
	*out = m;
	return ERR_OK;
}

err_t pb_encode(const ProtobufCMessage *m, struct buf_writer *w)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *dst = buf_reserve(w, n);

	if (!dst)
		return buf_writer_status(w);
	if (protobuf_c_message_pack(m, dst) != n)
		return ERR_INTERNAL;
	buf_commit(w, n);
	return ERR_OK;
}

ProtobufCMessage *pb_new(const ProtobufCMessageDescriptor *d, struct arena *a)
{
	ProtobufCMessage *m = arena_alloc(a, d->sizeof_message);

	if (m)
		d->message_init(m);
	return m;
}
