/* How deeply the messages of a protocol-buffer encoding nest, found without its
 * schema (onnx_import.c checks it before decoding). protobuf-c decodes a nested
 * message by recursion, one C frame per level and without a limit, so a model
 * of 800 KB nesting TypeProto.sequence_type 100,000 deep overflowed the stack.
 * Every message field is length-delimited, so the walk goes into each
 * length-delimited field that reads as a message: strings, bytes and packed
 * arrays almost always fail to within a few bytes and are then skipped as
 * opaque, and the depth found bounds the depth protobuf-c can reach. The walk
 * keeps its own stack and reads each byte once. */
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
