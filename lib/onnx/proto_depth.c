/* How deeply the messages of a protocol-buffer encoding nest, found without its
 * schema (onnx_import.c checks it before decoding). protobuf-c decodes a nested
 * message by recursion, one C frame per level and without a limit, so a model
 * of 800 KB nesting TypeProto.sequence_type 100,000 deep overflowed the stack.
 * Every message field is length-delimited, so the walk goes into each
 * length-delimited field that reads as a message: strings, bytes and packed
 * arrays almost always fail to within a few bytes and are then skipped as
 * opaque, and the depth found bounds the depth protobuf-c can reach. The walk
 * keeps its own stack and reads each byte once. The metadata entries' strings
 * are read here too, for the NUL bytes protobuf-c does not report. */
#include <string.h>

#include "onnx_import.h"

typedef struct frame {
  size_t at, end; /* the unread part of one message: data[at, end) */
} frame;

/* A varint of at most 10 bytes inside [*at, end); 0 when it does not end there. */
static int read_varint(const uint8_t *data, size_t end, size_t *at, uint64_t *value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && *at < end; shift += 7) {
    const uint8_t byte = data[(*at)++];
    v |= (uint64_t)(byte & 0x7f) << (shift < 64 ? shift : 63);
    if (!(byte & 0x80)) {
      *value = v;
      return 1;
    }
  }
  return 0;
}

int dcnn__proto_nesting_within(const uint8_t *data, size_t size, int limit) {
  frame stack[DCNN__ONNX_MAX_NESTING + 1];
  if (limit > DCNN__ONNX_MAX_NESTING) limit = DCNN__ONNX_MAX_NESTING;
  int top = 0;
  stack[0] = (frame){0, size};
  while (top >= 0) {
    frame *f = &stack[top];
    if (f->at == f->end) { /* a whole message */
      --top;
      continue;
    }
    size_t at = f->at;
    uint64_t key = 0, value = 0;
    /* Field number 0 is not refused: protobuf-c keeps an over-long tag 0 (82 00) as an unknown field and
     * decodes on, so refusing it here would hide the chain behind it. */
    int ok = read_varint(data, f->end, &at, &key), nested = 0;
    if (ok) switch (key & 7) {
        case 0: ok = read_varint(data, f->end, &at, &value); break;
        case 1:
          ok = f->end - at >= 8;
          if (ok) at += 8;
          break;
        case 5:
          ok = f->end - at >= 4;
          if (ok) at += 4;
          break;
        case 2:
          ok = read_varint(data, f->end, &at, &value) && value <= f->end - at;
          nested = ok && value > 0;
          break;
        default: ok = 0; /* groups (3, 4) are not in proto3, nor in ONNX's proto2 */
      }
    if (!ok) {
      if (top == 0) return 1; /* not a message at all: the decoder says so */
      --top;                  /* opaque bytes: the enclosing message has already moved past them */
      continue;
    }
    if (!nested) {
      f->at = at;
      continue;
    }
    f->at = at + (size_t)value;
    if (top == limit) return 0;
    stack[++top] = (frame){at, at + (size_t)value};
  }
  return 1;
}

/* The field at data[*at, end), moving *at past it: its number, its wire type, and for a length-delimited one
 * (type 2) its bytes [*start, *at); 0 when it does not fit (or is a group: ONNX's proto2 has none). */
static int read_field(const uint8_t *data, size_t end, size_t *at, uint64_t *number, int *type, size_t *start) {
  uint64_t key = 0, value = 0;
  if (!read_varint(data, end, at, &key)) return 0;
  *number = key >> 3;
  *type = (int)(key & 7);
  switch (*type) {
    case 0: return read_varint(data, end, at, &value);
    case 1: return end - *at >= 8 ? (*at += 8, 1) : 0;
    case 5: return end - *at >= 4 ? (*at += 4, 1) : 0;
    case 2:
      if (!read_varint(data, end, at, &value) || value > end - *at) return 0;
      *start = *at;
      *at += (size_t)value;
      return 1;
    default: return 0;
  }
}

/* Whether a StringStringEntryProto at data[at, end) has a NUL byte in its key (field 1) or value (2). */
static int entry_has_nul(const uint8_t *data, size_t at, size_t end) {
  uint64_t number = 0;
  int type = 0;
  size_t start = 0;
  while (at < end && read_field(data, end, &at, &number, &type, &start))
    if (type == 2 && (number == 1 || number == 2) && memchr(data + start, '\0', at - start)) return 1;
  return 0;
}

void dcnn__proto_metadata_nuls(const uint8_t *data, size_t size, uint8_t *flags, size_t count) {
  size_t at = 0, entry = 0, start = 0;
  uint64_t number = 0;
  int type = 0;
  /* ModelProto.metadata_props is field 14: its entries in file order, as protobuf-c lists them */
  while (entry < count && at < size && read_field(data, size, &at, &number, &type, &start))
    if (number == 14 && type == 2) flags[entry++] = (uint8_t)entry_has_nul(data, start, at);
}
