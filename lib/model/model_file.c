/* The model file container (docs/model-format.md): the only code that knows it.
 *
 *   header   "DCNNMODL" | u32 version | u32 section count
 *   section  v2: u32 tag | u32 encoding (0 stored, 1 zlib) | u32 CRC-32 of the
 *                stored bytes | u32 0 | u64 stored length | u64 decoded length | bytes
 *            v1: u32 tag | u32 CRC-32 | u64 length | bytes
 *   sections ARCH, [META], PARM, [STAT] in this order
 *
 * All integers and floats little-endian. Loading checks everything before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../io/atomic_file.h"
#include "../layers/conv_bn.h"
#include "architecture.h"
#include "digitcnn/model_file.h"
#include "digitcnn/version.h"
#include "model_io.h"

#define MAGIC "DCNNMODL"
#define TAG_ARCH 0x48435241u /* "ARCH" */
#define TAG_META 0x4154454Du /* "META" */
#define TAG_PARM 0x4D524150u /* "PARM" */
#define TAG_STAT 0x54415453u /* "STAT" */
#define ENCODING_STORED 0u
#define ENCODING_ZLIB 1u
#define HEADER_BYTES 16
#define V1_SECTION_HEADER_BYTES 16
#define V2_SECTION_HEADER_BYTES 32
/* Limits (docs/model-format.md, "Limits"): every one is checked from the headers, before allocating. */
/* Saving checks them too, so that a save never writes a file this loader refuses. */
#define MAX_SECTION_BYTES (UINT64_C(1) << 32)               /* decoded PARM or STAT */
#define MAX_TEXT_BYTES ((uint64_t)DCNN__MAX_TEXT_BYTES)     /* decoded ARCH or META */
#define MAX_EXPANSION 64                                    /* a zlib section decodes to at most 64 x its stored bytes ... */
#define EXPANSION_SLACK (UINT64_C(1) << 22)                 /* ... plus 4 MiB, so small sections of zeros still load */
#define BUILD_BYTES_PER_FILE_BYTE 256           /* layer state beyond parameters, per byte of the file */
#define BUILD_BYTES_PER_LAYER 2048              /* ... and per layer record (DCNN__MAX_LAYER_RECORDS at most) */
#define BUILD_SLACK (INT64_C(1) << 20)
/* What layers' builds may allocate beyond 3 x the parameter section (docs/layers.md: a user layer's lookup tables,
 * say): a fixed amount, so that a crafted file still costs little more than its size. A save refuses a model whose
 * builds took more, since its file would not load. */
#define BUILD_STATE_ALLOWANCE_MIB 64
#define BUILD_STATE_ALLOWANCE ((int64_t)BUILD_STATE_ALLOWANCE_MIB << 20)

/* The part of the load's allocation budget that layers' builds may use: 3 x the decoded parameter bytes (values,
 * gradients, spare), 256 per byte of the architecture text (never more than of the file itself: what a file claims
 * to decode to does not count), and the fixed allowance. The loader adds room for layer handles. */
static int64_t build_allowance(uint64_t parameter_bytes, uint64_t text_bytes, uint64_t file_bytes) {
  const uint64_t text = text_bytes < file_bytes ? text_bytes : file_bytes;
  return 3 * (int64_t)parameter_bytes + (int64_t)text * BUILD_BYTES_PER_FILE_BYTE + BUILD_STATE_ALLOWANCE;
}

/* The whole budget of building a file's architecture: the builds' part, then each layer record's own small
 * allocations (handles, state) and a fixed slack. The loader sets it; a save checks against it. */
static int64_t load_budget(uint64_t parameter_bytes, const uint8_t *text, uint64_t text_bytes, uint64_t file_bytes) {
  int64_t records = 0; /* lines of the architecture text */
  for (uint64_t i = 0; i < text_bytes && records <= DCNN__MAX_LAYER_RECORDS; ++i) records += text[i] == '\n';
  return build_allowance(parameter_bytes, text_bytes, file_bytes) + records * BUILD_BYTES_PER_LAYER + BUILD_SLACK;
}

/* ---- writing ---- */

/* Whether the loader accepts a zlib section of `stored` bytes decoding to `decoded` (a bomb otherwise). */
static int expansion_allowed(uint64_t stored, uint64_t decoded) {
  return decoded <= MAX_EXPANSION * stored + EXPANSION_SLACK;
}

/* Compressed at `level` (0: stored), or stored whenever compressing does not pay or the loader would take the
 * ratio for a bomb (all-zero weights or Adam moments compress ~1000:1). */
static void put_section(dcnn_context *ctx, dcnn_bytes *file, uint32_t tag, const dcnn_bytes *payload, int level) {
  uLongf stored_size = 0;
  uint8_t *packed = NULL;
  if (level > 0 && payload->size > 0) {
    stored_size = compressBound((uLong)payload->size);
    packed = dcnn__alloc(ctx, stored_size);
    if (!packed || compress2(packed, &stored_size, payload->data, (uLong)payload->size, level) != Z_OK) {
      dcnn__release(ctx, packed);
      file->failed = 1;
      return;
    }
    if (stored_size >= payload->size || !expansion_allowed(stored_size, payload->size)) {
      dcnn__release(ctx, packed);
      packed = NULL;
    }
  }
  const uint8_t *stored = packed ? packed : payload->data;
  const size_t size = packed ? (size_t)stored_size : payload->size;
  dcnn__bytes_u32(file, tag);
  dcnn__bytes_u32(file, packed ? ENCODING_ZLIB : ENCODING_STORED);
  dcnn__bytes_u32(file, (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), stored, size));
  dcnn__bytes_u32(file, 0);
  dcnn__bytes_u64(file, size);
  dcnn__bytes_u64(file, payload->size);
  dcnn__bytes_put(file, stored, size);
  dcnn__release(ctx, packed);
}

/* "key=value" lines; backslashes and line breaks in values escaped. */
static void put_metadata(const dcnn_model *m, dcnn_bytes *meta) {
  for (int32_t i = 0; i < m->metadata_count; ++i) {
    if (!strcmp(m->metadata[i].key, "library_version")) continue;
    dcnn__bytes_put(meta, m->metadata[i].key, strlen(m->metadata[i].key));
    dcnn__bytes_put(meta, "=", 1);
    for (const char *v = m->metadata[i].value; *v; ++v) {
      if (*v == '\\') dcnn__bytes_put(meta, "\\\\", 2);
      else if (*v == '\n') dcnn__bytes_put(meta, "\\n", 2);
      else dcnn__bytes_put(meta, v, 1);
    }
    dcnn__bytes_put(meta, "\n", 1);
  }
  const char *version = dcnn_version_string();
  dcnn__bytes_put(meta, "library_version=", 16);
  dcnn__bytes_put(meta, version, strlen(version));
  dcnn__bytes_put(meta, "\n", 1);
}

/* DCNN_ERR_UNSUPPORTED unless the loader's limit on the decoded size of the section holds. */
static dcnn_status check_section_size(const char *what, const dcnn_bytes *payload, uint64_t limit) {
  DCNN_CHECK(payload->failed || (uint64_t)payload->size <= limit, DCNN_ERR_UNSUPPORTED,
             "dcnn_model_save: the %s take %llu bytes, more than the %llu a model file holds; nothing was written", what,
             (unsigned long long)payload->size, (unsigned long long)limit);
  return DCNN_OK;
}

/* Whether `t` is the running variance of a built-in batch norm that is `l`
 * or lies in it (a residual block's parts, nested ones included). By the
 * tensor, not the name: a user layer's buffer may be called "running_var",
 * and nested names are cut at 63 bytes. */
static int is_builtin_variance(const dcnn_layer *l, const dcnn_tensor *t) {
  const dcnn_tensor *variance = dcnn__batchnorm_variance(l);
  if (variance) return variance == t;
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  if (!dcnn__residual_parts(l, parts, counts, &relu)) return 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t k = 0; k < counts[p]; ++k)
      if (is_builtin_variance(parts[p][k], t)) return 1;
  return 0;
}

/* The first negative value of a built-in batch norm's running variance (a
 * mean of squares), or -1. Only a crafted or hand-edited model has one, and
 * it makes sqrt(var + epsilon) NaN at inference. User layers' buffers are
 * theirs to check, whatever their names. */
static int64_t negative_variance_at(const dcnn_model *m, int32_t layer, const dcnn_param *p) {
  if (!(p->flags & DCNN_PARAM_BUFFER) || !is_builtin_variance(dcnn_model_layer((dcnn_model *)m, layer), p->value))
    return -1;
  for (int64_t k = 0; k < p->value->count; ++k)
    if (p->value->data[k] < 0.0f) return k;
  return -1;
}

dcnn_status dcnn__model_encode(const dcnn_model *m, int level, const dcnn_bytes *state, dcnn_bytes *file) {
  DCNN_CHECK(m->layer_count > 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_save: the model has no layers");
  dcnn_bytes arch = {.ctx = m->ctx}, meta = {.ctx = m->ctx}, parm = {.ctx = m->ctx};
  int64_t factory_bytes = 0;
  dcnn_status status = dcnn__architecture_write(m, &arch, &factory_bytes);
  /* the loader reads at most DCNN__METADATA_MAX_ENTRIES, library_version (written anew) among them */
  int32_t entries = 1;
  for (int32_t i = 0; i < m->metadata_count; ++i) entries += strcmp(m->metadata[i].key, "library_version") != 0;
  if (status == DCNN_OK && entries > DCNN__METADATA_MAX_ENTRIES)
    status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_model_save: %d metadata entries with library_version, more than "
                        "the %d a model file holds; nothing was written", (int)entries, DCNN__METADATA_MAX_ENTRIES);
  put_metadata(m, &meta);
  /* sized once: growing a buffer of gigabytes by doubling would copy it and hold two at a time */
  size_t floats = 0;
  for (int32_t i = 0; i < m->param_total && status == DCNN_OK; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param((dcnn_model *)m, i, &p, NULL) == DCNN_OK) floats += (size_t)p.value->count;
  }
  if (status == DCNN_OK) /* the count, then each parameter's rank, dims and values */
    dcnn__bytes_reserve(&parm, 4 + (size_t)m->param_total * 4 * (1 + DCNN_MAX_DIMS) + floats * 4);
  dcnn__bytes_u32(&parm, (uint32_t)m->param_total);
  for (int32_t i = 0; i < m->param_total && status == DCNN_OK; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    int32_t layer = 0;
    status = dcnn_model_param((dcnn_model *)m, i, &p, &layer);
    if (status != DCNN_OK) break;
    /* The loader refuses non-finite parameters: never write such a file (it
     * would replace a good one). */
    for (int64_t k = 0; k < p.value->count; ++k)
      if (!isfinite(p.value->data[k])) {
        status = dcnn__fail(DCNN_ERR_NUMERIC, "dcnn_model_save: parameter %d ('%s' of layer %d) holds %g at %lld: "
                            "the model would not load again, nothing was written", (int)i, p.name ? p.name : "?",
                            (int)layer, (double)p.value->data[k], (long long)k);
        break;
      }
    const int64_t negative = status == DCNN_OK ? negative_variance_at(m, layer, &p) : -1;
    if (negative >= 0)
      status = dcnn__fail(DCNN_ERR_NUMERIC, "dcnn_model_save: parameter %d ('%s' of layer %d) holds %g at %lld, a "
                          "negative variance: the model would not load again, nothing was written", (int)i, p.name,
                          (int)layer, (double)p.value->data[negative], (long long)negative);
    if (status != DCNN_OK) break;
    dcnn__bytes_u32(&parm, (uint32_t)p.value->shape.ndim);
    for (int32_t d = 0; d < p.value->shape.ndim; ++d) dcnn__bytes_u32(&parm, (uint32_t)p.value->shape.dims[d]);
    dcnn__bytes_floats(&parm, p.value->data, p.value->count);
  }
  if (status == DCNN_OK) status = check_section_size("architecture text", &arch, MAX_TEXT_BYTES);
  if (status == DCNN_OK) status = check_section_size("metadata text", &meta, MAX_TEXT_BYTES);
  if (status == DCNN_OK) status = check_section_size("parameters", &parm, MAX_SECTION_BYTES);
  if (status == DCNN_OK && state) status = check_section_size("training state", state, MAX_SECTION_BYTES);
  if (status == DCNN_OK) {
    if (level == 0) /* stored: the sections' sizes are the file's (compressed, they would be less) */
      dcnn__bytes_reserve(file, file->size + arch.size + meta.size + parm.size + (state ? state->size : 0) + 256);
    dcnn__bytes_put(file, MAGIC, 8);
    dcnn__bytes_u32(file, DCNN_MODEL_FORMAT_VERSION);
    dcnn__bytes_u32(file, state ? 4 : 3);
    put_section(m->ctx, file, TAG_ARCH, &arch, level);
    put_section(m->ctx, file, TAG_META, &meta, level);
    put_section(m->ctx, file, TAG_PARM, &parm, level);
    if (state) put_section(m->ctx, file, TAG_STAT, state, level);
    if (arch.failed || meta.failed || parm.failed || file->failed || (state && state->failed))
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_save: out of memory");
    /* Each section fits, but the loader reads the whole file first: a file
     * it would refuse is never written. */
    else if ((uint64_t)file->size > DCNN_READ_FILE_MAX_BYTES)
      status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_model_save: the file would be %llu bytes, more than the %llu a "
                          "model file may have; nothing was written", (unsigned long long)file->size,
                          (unsigned long long)DCNN_READ_FILE_MAX_BYTES);
    else {
      /* The loader makes and builds the layers within a budget computed from the file: a model whose factories and
       * builds allocate more (a user layer's large tables) would save but not load. */
      int64_t built = 0;
      for (int32_t i = 0; i < m->layer_count; ++i) built += m->layers[i]->build_bytes;
      /* less the slack, which the load spends on what a save cannot measure (the model's own arrays, residual
       * blocks' handles) */
      const int64_t allowed = load_budget(parm.size, arch.data, arch.size, file->size) - BUILD_SLACK;
      if (built + factory_bytes > allowed)
        status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_model_save: the layers' factories and builds allocate %lld "
                            "bytes (%lld of them in factories) when the model is loaded, more than the %lld a load "
                            "allows them (3 x the %llu bytes of parameters, plus %d MiB of other state; "
                            "docs/layers.md); nothing was written", (long long)(built + factory_bytes),
                            (long long)factory_bytes, (long long)allowed, (unsigned long long)parm.size,
                            BUILD_STATE_ALLOWANCE_MIB);
    }
  }
  dcnn__bytes_free(&arch);
  dcnn__bytes_free(&meta);
  dcnn__bytes_free(&parm);
  return status;
}

dcnn_status dcnn_model_save_compressed(const dcnn_model *model, const char *path, int level) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(path);
  DCNN_CHECK(level >= 0 && level <= 9, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_save_compressed: level %d is outside 0 (stored) .. 9", level);
  dcnn_bytes file = {.ctx = model->ctx};
  dcnn_status status = dcnn__model_encode(model, level, NULL, &file);
  if (status == DCNN_OK) status = dcnn__write_file_atomic(path, file.data, file.size);
  dcnn__bytes_free(&file);
  return status;
}

dcnn_status dcnn_model_save(const dcnn_model *model, const char *path) {
  DCNN_CHECK_ARG(model); /* named here: the messages below name dcnn_model_save_compressed */
  DCNN_CHECK_ARG(path);
  return dcnn_model_save_compressed(model, path, 0);
}

/* ---- reading ---- */

/* One section, located, checked and decoded; `data` comes from the context
 * allocator with one spare byte (for a terminating NUL); the training state
 * goes to the caller's `state` instead. */
typedef struct section {
  uint32_t tag;
  uint64_t offset; /* of its stored bytes in the file */
  uint8_t *data;
  uint64_t size;
} section;

static void section_free(dcnn_context *ctx, section *s) {
  dcnn__release(ctx, s->data);
  s->data = NULL;
  s->size = 0;
}

static const char *tag_name(uint32_t tag) {
  switch (tag) {
    case TAG_ARCH: return "architecture";
    case TAG_META: return "metadata";
    case TAG_PARM: return "parameters";
    case TAG_STAT: return "training state";
  }
  return "unknown";
}

/* zlib's own state comes from the context too. */
static voidpf z_alloc(voidpf ctx, uInt items, uInt size) { return dcnn__calloc(ctx, items, size); }
static void z_free(voidpf ctx, voidpf ptr) { dcnn__release(ctx, ptr); }

/* Inflates `stored` bytes into exactly `decoded` bytes at `out`, in chunks
 * zlib's 32-bit counters can hold. zlib never writes past what it is given,
 * so the claimed (already bounded) size is the running bound: a stream that
 * would decode to more, or less, is refused. */
static int inflate_exact(dcnn_context *ctx, const uint8_t *in, uint64_t stored, uint8_t *out, uint64_t decoded) {
  const uint64_t chunk = UINT64_C(1) << 30;
  z_stream z;
  memset(&z, 0, sizeof z);
  z.zalloc = z_alloc;
  z.zfree = z_free;
  z.opaque = dcnn__context(ctx);
  if (inflateInit(&z) != Z_OK) return Z_MEM_ERROR;
  z.next_in = (Bytef *)in;
  z.next_out = out;
  uint64_t in_left = stored, out_left = decoded;
  int result;
  for (;;) {
    if (!z.avail_in) {
      z.avail_in = (uInt)(in_left < chunk ? in_left : chunk);
      in_left -= z.avail_in;
    }
    if (!z.avail_out) {
      z.avail_out = (uInt)(out_left < chunk ? out_left : chunk);
      out_left -= z.avail_out;
    }
    result = inflate(&z, Z_NO_FLUSH);
    if (result != Z_OK) break; /* Z_BUF_ERROR: input cut short, or more output than claimed */
  }
  if (result == Z_STREAM_END)
    result = z.avail_out == 0 && out_left == 0 && z.avail_in == 0 && in_left == 0 ? Z_OK : Z_DATA_ERROR;
  else if (result == Z_BUF_ERROR || result == Z_NEED_DICT)
    result = Z_DATA_ERROR;
  inflateEnd(&z);
  return result;
}

/* Reads the section header at r->at, checks bounds, limits and checksum, and decodes the payload. */
static dcnn_status read_section(dcnn_context *ctx, dcnn_reader *r, uint32_t version, section *s,
                                dcnn_model_state *state) {
  const uint64_t header = r->at;
  uint32_t encoding = ENCODING_STORED, crc = 0, reserved = 0;
  uint64_t stored = 0, decoded = 0;
  if (version == 1) {
    DCNN_TRY(dcnn__reader_need(r, V1_SECTION_HEADER_BYTES, "a section header"));
    s->tag = dcnn__reader_u32(r);
    crc = dcnn__reader_u32(r);
    stored = decoded = dcnn__reader_u64(r);
  } else {
    DCNN_TRY(dcnn__reader_need(r, V2_SECTION_HEADER_BYTES, "a section header"));
    s->tag = dcnn__reader_u32(r);
    encoding = dcnn__reader_u32(r);
    crc = dcnn__reader_u32(r);
    reserved = dcnn__reader_u32(r);
    stored = dcnn__reader_u64(r);
    decoded = dcnn__reader_u64(r);
  }
  const char *name = tag_name(s->tag);
  DCNN_CHECK(s->tag == TAG_ARCH || s->tag == TAG_META || s->tag == TAG_PARM || s->tag == TAG_STAT, DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: unknown section tag 0x%08x", r->name, (unsigned long long)header, (unsigned)s->tag);
  DCNN_CHECK(encoding <= ENCODING_ZLIB, DCNN_ERR_BAD_FORMAT, "%s: byte %llu: the %s section has an unknown encoding %u",
             r->name, (unsigned long long)header, name, (unsigned)encoding);
  DCNN_CHECK(reserved == 0, DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: the %s section header's reserved field is %u; this version writes and reads 0", r->name,
             (unsigned long long)header, name, (unsigned)reserved);
  DCNN_CHECK(encoding == ENCODING_ZLIB || decoded == stored, DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: the stored %s section claims %llu decoded bytes from %llu stored", r->name,
             (unsigned long long)header, name, (unsigned long long)decoded, (unsigned long long)stored);
  const int text = s->tag == TAG_ARCH || s->tag == TAG_META;
  const uint64_t limit = text ? MAX_TEXT_BYTES : MAX_SECTION_BYTES;
  DCNN_CHECK(decoded <= limit, DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: the %s section claims %llu decoded bytes, more than the limit of %llu", r->name,
             (unsigned long long)header, name, (unsigned long long)decoded, (unsigned long long)limit);
  DCNN_TRY(dcnn__reader_need(r, stored, name));
  /* Real weights barely compress; a higher claimed ratio is a decompression bomb (zlib allows about 1032:1). */
  DCNN_CHECK(encoding != ENCODING_ZLIB || expansion_allowed(stored, decoded), DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: the %s section claims %llu decoded bytes from %llu compressed, more than the limit of "
             "%d times plus 4 MiB",
             r->name, (unsigned long long)header, name, (unsigned long long)decoded, (unsigned long long)stored,
             MAX_EXPANSION);
  s->offset = r->at;
  const uint8_t *bytes = r->data + r->at;
  const uint32_t actual = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), bytes, (size_t)stored);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void)actual;
  (void)crc;
#else
  DCNN_CHECK(actual == crc, DCNN_ERR_BAD_FORMAT, "%s: the %s section (byte %llu, %llu bytes) fails its CRC-32 check",
             r->name, name, (unsigned long long)r->at, (unsigned long long)stored);
#endif
  r->at += stored;
  s->data = NULL;
  s->size = decoded;
  if (decoded == 0) {
    /* Nothing to keep, but a zlib section must still inflate to exactly its size (0 bytes): garbage claiming to
     * decode to nothing is as corrupt as garbage claiming more. */
    uint8_t sink[1];
    const int z = encoding == ENCODING_ZLIB ? inflate_exact(ctx, bytes, stored, sink, 0) : Z_OK;
    DCNN_CHECK(z == Z_OK, z == Z_MEM_ERROR ? DCNN_ERR_OUT_OF_MEMORY : DCNN_ERR_BAD_FORMAT,
               "%s: the %s section (byte %llu) does not decompress to 0 bytes (%s)", r->name, name,
               (unsigned long long)s->offset, zError(z));
    return DCNN_OK;
  }
  /* decoded + 1 must not wrap: the limit allows 2^32 bytes, which a 32-bit size_t cannot add 1 to */
  DCNN_CHECK(decoded < SIZE_MAX, DCNN_ERR_OUT_OF_MEMORY, "%s: the %s section's %llu bytes do not fit this process's "
             "address space", r->name, name, (unsigned long long)decoded);
  s->data = dcnn__alloc(ctx, (size_t)decoded + 1);
  uint8_t *out = s->data;
  DCNN_CHECK(out != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory for the %s section (%llu bytes)", r->name, name,
             (unsigned long long)decoded);
  int z = Z_OK;
  if (encoding == ENCODING_STORED) memcpy(out, bytes, (size_t)stored);
  else z = inflate_exact(ctx, bytes, stored, out, decoded);
  if (z != Z_OK) {
    section_free(ctx, s);
    return dcnn__fail(z == Z_MEM_ERROR ? DCNN_ERR_OUT_OF_MEMORY : DCNN_ERR_BAD_FORMAT,
                      "%s: the %s section (byte %llu) does not decompress to %llu bytes (%s)", r->name, name,
                      (unsigned long long)s->offset, (unsigned long long)decoded, zError(z));
  }
  if (s->tag == TAG_STAT && state) { /* handed over to the caller */
    *state = (dcnn_model_state){ctx, s->data, decoded};
    s->data = NULL;
  }
  return DCNN_OK;
}

void dcnn__model_state_free(dcnn_model_state *state) {
  dcnn__release(state->ctx, state->data);
  *state = (dcnn_model_state){NULL, NULL, 0};
}

/* Copies the PARM payload into the model after checking every shape and value. */
static dcnn_status read_parameters(const char *name, const section *payload, dcnn_model *m) {
  dcnn_reader r = {name, payload->data, payload->size, 0};
  DCNN_TRY(dcnn__reader_need(&r, 4, "the parameter count"));
  const uint32_t count = dcnn__reader_u32(&r);
  DCNN_CHECK(count == (uint32_t)m->param_total, DCNN_ERR_BAD_FORMAT,
             "%s: %u parameter tensors, the architecture has %d", name, (unsigned)count, (int)m->param_total);
  for (int32_t i = 0; i < m->param_total; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    int32_t layer = 0;
    DCNN_TRY(dcnn_model_param(m, i, &p, &layer));
    DCNN_TRY(dcnn__reader_need(&r, 4, "a tensor rank"));
    const uint32_t ndim = dcnn__reader_u32(&r);
    DCNN_CHECK(ndim == (uint32_t)p.value->shape.ndim, DCNN_ERR_BAD_FORMAT,
               "%s: parameters byte %llu: parameter %d (%s) has rank %u, the architecture needs %d", name,
               (unsigned long long)(r.at - 4), (int)i, p.name, (unsigned)ndim, (int)p.value->shape.ndim);
    DCNN_TRY(dcnn__reader_need(&r, 4 * (uint64_t)ndim, "tensor dimensions"));
    for (uint32_t d = 0; d < ndim; ++d) {
      const uint32_t dim = dcnn__reader_u32(&r);
      DCNN_CHECK(dim == (uint32_t)p.value->shape.dims[d], DCNN_ERR_BAD_FORMAT,
                 "%s: parameters byte %llu: parameter %d (%s) dimension %u is %u, the architecture needs %d", name,
                 (unsigned long long)(r.at - 4), (int)i, p.name, (unsigned)d, (unsigned)dim,
                 (int)p.value->shape.dims[d]);
    }
    const uint64_t values_at = r.at;
    DCNN_TRY(dcnn__reader_floats(&r, p.value->data, p.value->count, p.name));
    const int64_t negative = negative_variance_at(m, layer, &p);
    DCNN_CHECK(negative < 0, DCNN_ERR_BAD_FORMAT,
               "%s: parameters byte %llu: parameter %d (%s of layer %d) value %lld is %g, a negative variance", name,
               (unsigned long long)(values_at + 4 * (uint64_t)negative), (int)i, p.name, (int)layer,
               (long long)negative, (double)p.value->data[negative < 0 ? 0 : negative]);
  }
  DCNN_CHECK(r.at == r.size, DCNN_ERR_BAD_FORMAT, "%s: %llu unexpected bytes at the end of the parameters", name,
             (unsigned long long)(r.size - r.at));
  return DCNN_OK;
}

/* Parses "key=value" lines into the model's metadata: appended in file order,
 * sorted once at the end, so that n entries cost O(n log n) whatever the order. */
static dcnn_status read_metadata(const char *name, section *payload, dcnn_model *m) {
  DCNN_CHECK(!memchr(payload->data, '\0', payload->size), DCNN_ERR_BAD_FORMAT, "%s: the metadata section is not text",
             name);
  payload->data[payload->size] = '\0';
  int32_t line_no = 0;
  for (char *line = (char *)payload->data; *line;) {
    char *end = strchr(line, '\n');
    ++line_no;
    DCNN_CHECK(end != NULL, DCNN_ERR_BAD_FORMAT, "%s: metadata line %d is not terminated", name, (int)line_no);
    *end = '\0';
    char *eq = strchr(line, '=');
    DCNN_CHECK(eq != NULL, DCNN_ERR_BAD_FORMAT, "%s: metadata line %d: expected key=value", name, (int)line_no);
    *eq = '\0';
    /* Unescape in place: the value only shrinks. */
    char *w = eq + 1;
    for (const char *v = eq + 1; *v; ++v) {
      if (*v != '\\') {
        *w++ = *v;
        continue;
      }
      ++v;
      DCNN_CHECK(*v == '\\' || *v == 'n', DCNN_ERR_BAD_FORMAT, "%s: metadata line %d: bad escape", name, (int)line_no);
      *w++ = *v == 'n' ? '\n' : '\\';
    }
    *w = '\0';
    dcnn_status status = dcnn__model_append_metadata(m, line, eq + 1);
    if (status != DCNN_OK)
      return dcnn__wrap_error(status == DCNN_ERR_OUT_OF_MEMORY ? status : DCNN_ERR_BAD_FORMAT, "%s: metadata line %d",
                              name, (int)line_no);
    line = end + 1;
  }
  const char *repeated = dcnn__model_sort_metadata(m);
  DCNN_CHECK(repeated == NULL, DCNN_ERR_BAD_FORMAT, "%s: metadata key '%.64s' repeated", name, repeated);
  return DCNN_OK;
}

dcnn_status dcnn__model_decode(dcnn_context *ctx, const char *name, const uint8_t *data, uint64_t size,
                               dcnn_model **out, dcnn_model_state *state) {
  *out = NULL;
  if (state) *state = (dcnn_model_state){NULL, NULL, 0};
  dcnn_reader r = {name, data, size, 0};
  DCNN_TRY(dcnn__reader_need(&r, HEADER_BYTES, "the header"));
  DCNN_CHECK(memcmp(data, MAGIC, 8) == 0, DCNN_ERR_BAD_FORMAT,
             "%s: not a libdigitcnn model file (wrong magic at byte 0)", name);
  r.at = 8;
  const uint32_t version = dcnn__reader_u32(&r), count = dcnn__reader_u32(&r);
  DCNN_CHECK(version <= DCNN_MODEL_FORMAT_VERSION, DCNN_ERR_UNSUPPORTED,
             "%s: format version %u is newer than this library's %d; upgrade libdigitcnn", name, (unsigned)version,
             DCNN_MODEL_FORMAT_VERSION);
  DCNN_CHECK(version >= 1, DCNN_ERR_BAD_FORMAT, "%s: format version 0 at byte 8 is invalid", name);
  DCNN_CHECK(version == 1 ? count == 2 : count >= 2 && count <= 4, DCNN_ERR_BAD_FORMAT,
             "%s: byte 12: %u sections, format version %u has %s", name, (unsigned)count, (unsigned)version,
             version == 1 ? "2" : "2 to 4");
  /* Sections come in a fixed order, each at most once. */
  static const uint32_t order[4] = {TAG_ARCH, TAG_META, TAG_PARM, TAG_STAT};
  section found[4] = {{0}, {0}, {0}, {0}};
  int present[4] = {0, 0, 0, 0}, next = 0;
  dcnn_status status = DCNN_OK;
  for (uint32_t i = 0; i < count && status == DCNN_OK; ++i) {
    section s = {0};
    const uint64_t header = r.at;
    /* Peek at the tag so that a section out of order is refused before it is decoded. */
    if (dcnn__reader_need(&r, 4, "a section header") == DCNN_OK) {
      dcnn_reader peek = r;
      const uint32_t tag = dcnn__reader_u32(&peek);
      int slot = next;
      while (slot < 4 && order[slot] != tag) ++slot;
      const int misplaced = slot == 4 || (version == 1 && tag != (i == 0 ? TAG_ARCH : TAG_PARM));
      const int known = tag == TAG_ARCH || tag == TAG_META || tag == TAG_PARM || tag == TAG_STAT;
      if (known && misplaced) {
        status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: byte %llu: the %s section is out of order or repeated", name,
                            (unsigned long long)header, tag_name(tag));
        break;
      }
    }
    status = read_section(ctx, &r, version, &s, state);
    if (status != DCNN_OK) break;
    int slot = next;
    while (slot < 4 && order[slot] != s.tag) ++slot;
    found[slot] = s;
    present[slot] = 1;
    next = slot + 1;
  }
  if (status == DCNN_OK && (!present[0] || !present[2]))
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the %s section is missing", name,
                        present[0] ? "parameters" : "architecture");
  if (status == DCNN_OK && r.at != size)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %llu unexpected bytes after the last section (byte %llu)", name,
                        (unsigned long long)(size - r.at), (unsigned long long)r.at);
  dcnn_model *m = NULL;
  if (status == DCNN_OK) {
    section *arch = &found[0];
    if (arch->size == 0 || memchr(arch->data, '\0', arch->size))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the architecture section (byte %llu) is not text", name,
                          (unsigned long long)found[0].offset);
    else {
      arch->data[arch->size] = '\0';
      /* Layers allocate their parameters (and as much again for gradients) while the architecture is
       * built: no more than the file's parameter section can fill, plus room for tensor headers and
       * per-layer state in proportion to the file's own size (not to what it claims to decode to) and
       * the fixed allowance a save checks, so absurd sizes fail fast instead of attempting huge
       * allocations. */
      const int64_t budget = load_budget(found[2].size, arch->data, arch->size, size);
      const int64_t previous = dcnn__set_alloc_budget(budget), refusals = dcnn__alloc_budget_refusals();
      status = dcnn__architecture_build(ctx, name, (char *)arch->data, &m);
      dcnn__set_alloc_budget(previous);
      if (status == DCNN_ERR_OUT_OF_MEMORY && dcnn__alloc_budget_refusals() != refusals)
        status = dcnn__wrap_error(DCNN_ERR_BAD_FORMAT,
                                  "%s: building the architecture needs more memory than the file allows (3 x its "
                                  "%llu-byte parameter section, plus %d MiB for other layer state): its layers' "
                                  "parameters do not fit that section, or a layer's build allocates too much",
                                  name, (unsigned long long)found[2].size, BUILD_STATE_ALLOWANCE_MIB);
    }
  }
  if (status == DCNN_OK && present[1] && found[1].size) status = read_metadata(name, &found[1], m);
  if (status == DCNN_OK) status = read_parameters(name, &found[2], m);
  for (int i = 0; i < 4; ++i) section_free(ctx, &found[i]);
  if (status != DCNN_OK) {
    if (state) dcnn__model_state_free(state);
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}

dcnn_status dcnn_model_load_memory(dcnn_context *ctx, const void *data, size_t size, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(data != NULL || size == 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_load_memory: argument 'data' is NULL");
  return dcnn__model_decode(ctx, "<memory>", data, size, out, NULL);
}

static dcnn_status load_file(dcnn_context *ctx, const char *path, dcnn_model **out) {
  uint8_t *data = NULL;
  uint64_t size = 0;
  DCNN_TRY(dcnn__read_file_in(ctx, path, NULL, DCNN_READ_FILE_MAX_BYTES, &data, &size));
  char shown[DCNN__SHOWN_PATH_MAX];
  dcnn_status status = dcnn__model_decode(ctx, dcnn__shown_path(path, shown), data, size, out, NULL);
  dcnn__release(ctx, data);
  return status;
}

dcnn_status dcnn_model_load(dcnn_context *ctx, const char *path, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(path);
  const char *enclosing = dcnn__file_scope_enter(path); /* every error here is about the file */
  const dcnn_status status = load_file(ctx, path, out);
  dcnn__file_scope_leave(enclosing);
  return status;
}
