/* The model file format (docs/model-format.md): the only code that knows it.
 *
 *   header   "DCNNMODL" | u32 version | u32 section count (2)
 *   section  u32 tag | u32 CRC-32 of the payload | u64 payload length | payload
 *   ARCH     text: "input <ndim> <dims...>" then "layer <type> <config>" per layer
 *   PARM     u32 tensors | per tensor: u32 ndim | u32 dims[ndim] | float32 values
 *
 * All integers and floats little-endian. Loading checks everything before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../io/atomic_file.h"
#include "digitcnn/model_file.h"
#include "model_internal.h"
#include "registry.h"

#define MAGIC "DCNNMODL"
#define TAG_ARCH 0x48435241u /* "ARCH" */
#define TAG_PARM 0x4D524150u /* "PARM" */
#define HEADER_BYTES 16
#define SECTION_HEADER_BYTES 16
#define MAX_FILE_BYTES (INT64_C(1) << 32)

/* ---- writing ---- */

typedef struct buffer {
  uint8_t *data;
  size_t size, capacity;
  int failed;
} buffer;

static void put(buffer *b, const void *bytes, size_t n) {
  if (b->failed) return;
  if (b->size + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->size + n) capacity *= 2;
    uint8_t *grown = realloc(b->data, capacity);
    if (!grown) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->size, bytes, n);
  b->size += n;
}

static void put_u32(buffer *b, uint32_t v) {
  const uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, bytes, 4);
}

static void put_u64(buffer *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(buffer *b, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(b, v);
}

static void put_section(buffer *file, uint32_t tag, const buffer *payload) {
  put_u32(file, tag);
  put_u32(file, (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), payload->data, payload->size));
  put_u64(file, payload->size);
  put(file, payload->data, payload->size);
}

dcnn_status dcnn_model_save(const dcnn_model *model, const char *path) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(path);
  DCNN_CHECK(model->layer_count > 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_save: the model has no layers");
  buffer arch = {0}, parm = {0}, file = {0};
  char line[512];
  int n = snprintf(line, sizeof line, "input %d", (int)model->sample_shape.ndim);
  for (int32_t i = 0; i < model->sample_shape.ndim; ++i)
    n += snprintf(line + n, sizeof line - (size_t)n, " %d", (int)model->sample_shape.dims[i]);
  snprintf(line + n, sizeof line - (size_t)n, "\n");
  put(&arch, line, strlen(line));
  dcnn_status status = DCNN_OK;
  for (int32_t i = 0; i < model->layer_count && status == DCNN_OK; ++i) {
    const dcnn_layer *l = model->layers[i];
    char config[400] = "";
    if (!strcmp(l->vt->type_name, "residual"))
      status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_model_save: layer %d: residual blocks cannot be saved yet", (int)i);
    else if (l->vt->describe)
      status = l->vt->describe(l->self, config, sizeof config);
    snprintf(line, sizeof line, "layer %s %s\n", l->vt->type_name, config);
    put(&arch, line, strlen(line));
  }
  const int32_t tensors = model->param_total;
  put_u32(&parm, (uint32_t)tensors);
  for (int32_t i = 0; i < tensors && status == DCNN_OK; ++i) {
    dcnn_param p;
    status = dcnn_model_param((dcnn_model *)model, i, &p, NULL);
    if (status != DCNN_OK) break;
    put_u32(&parm, (uint32_t)p.value->shape.ndim);
    for (int32_t d = 0; d < p.value->shape.ndim; ++d) put_u32(&parm, (uint32_t)p.value->shape.dims[d]);
    for (int64_t k = 0; k < p.value->count; ++k) put_f32(&parm, p.value->data[k]);
  }
  if (status == DCNN_OK) {
    put(&file, MAGIC, 8);
    put_u32(&file, DCNN_MODEL_FORMAT_VERSION);
    put_u32(&file, 2);
    put_section(&file, TAG_ARCH, &arch);
    put_section(&file, TAG_PARM, &parm);
    if (arch.failed || parm.failed || file.failed)
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_save: out of memory");
  }
  if (status == DCNN_OK) status = dcnn__write_file_atomic(path, file.data, file.size);
  free(arch.data);
  free(parm.data);
  free(file.data);
  return status;
}

/* ---- reading ---- */

typedef struct reader {
  const char *path;
  const uint8_t *data;
  uint64_t size, at;
} reader;

static dcnn_status need(const reader *r, uint64_t bytes, const char *what) {
  DCNN_CHECK(bytes <= r->size && r->at <= r->size - bytes, DCNN_ERR_BAD_FORMAT,
             "%s: truncated at byte %llu while reading %s (%llu bytes)", r->path, (unsigned long long)r->at, what,
             (unsigned long long)bytes);
  return DCNN_OK;
}

static uint32_t get_u32(reader *r) {
  const uint8_t *p = r->data + r->at;
  r->at += 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(reader *r) {
  uint64_t lo = get_u32(r);
  return lo | (uint64_t)get_u32(r) << 32;
}

static dcnn_status read_whole(const char *path, uint8_t **data, uint64_t *size) {
  FILE *f = fopen(path, "rb");
  DCNN_CHECK(f != NULL, DCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  long length = -1;
  if (fseek(f, 0, SEEK_END) == 0) length = ftell(f);
  dcnn_status status = DCNN_OK;
  if (length < 0 || fseek(f, 0, SEEK_SET) != 0) status = dcnn__fail(DCNN_ERR_IO, "%s: cannot determine its size", path);
  else if ((int64_t)length > MAX_FILE_BYTES) status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %ld bytes is too large", path, length);
  uint8_t *buf = status == DCNN_OK ? malloc((size_t)length + 1) : NULL;
  if (status == DCNN_OK && !buf) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  if (status == DCNN_OK && fread(buf, 1, (size_t)length, f) != (size_t)length)
    status = dcnn__fail(DCNN_ERR_IO, "%s: read failed", path);
  fclose(f);
  if (status != DCNN_OK) {
    free(buf);
    return status;
  }
  *data = buf;
  *size = (uint64_t)length;
  return DCNN_OK;
}

/* Builds the model from the ARCH text (NUL-terminated copy, modified in place). */
static dcnn_status build_architecture(dcnn_context *ctx, const char *path, char *text, dcnn_model **out) {
  int32_t line_no = 0;
  dcnn_model *m = NULL;
  dcnn_status status = DCNN_OK;
  for (char *line = text; line && *line && status == DCNN_OK;) {
    char *next = strchr(line, '\n');
    if (!next) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: architecture line %d is not terminated", path, (int)line_no + 1);
      break;
    }
    *next = '\0';
    ++line_no;
    if (line_no == 1) {
      /* "input <ndim> <d0> ... <d(ndim-1)>" and nothing else */
      long values[4] = {0, 0, 0, 0};
      int count = 0, ok = strncmp(line, "input ", 6) == 0;
      char *p = line + 6, *end = NULL;
      while (ok && *p && count < 5) {
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || (*end && *end != ' ') || count == 4) ok = 0;
        else values[count++] = v;
        p = *end ? end + 1 : end;
      }
      if (!ok || count < 2 || values[0] > 3 || count != values[0] + 1) {
        status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: architecture line 1: expected \"input <ndim> <dims>\"", path);
        break;
      }
      dcnn_shape s = dcnn_shape_make((int32_t)values[0], (int32_t)values[1], (int32_t)values[2], (int32_t)values[3], 0);
      status = dcnn_model_create(ctx, &s, &m);
      if (status != DCNN_OK) status = dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s: architecture line 1", path);
    } else {
      char *type = line + 6, *config = NULL;
      if (strncmp(line, "layer ", 6) != 0 || !*type) {
        status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: architecture line %d: expected \"layer <type> <config>\"", path,
                            (int)line_no);
        break;
      }
      config = strchr(type, ' ');
      if (config) *config++ = '\0';
      dcnn_layer *layer = NULL;
      status = dcnn__layer_from_config(type, config ? config : "", &layer);
      if (status == DCNN_OK) status = dcnn_model_add(m, layer);
      if (status != DCNN_OK)
        status = dcnn__wrap_error(status == DCNN_ERR_OUT_OF_MEMORY || status == DCNN_ERR_NOT_FOUND ? status
                                                                                                      : DCNN_ERR_BAD_FORMAT,
                                  "%s: architecture line %d", path, (int)line_no);
    }
    line = next + 1;
  }
  if (status == DCNN_OK && (!m || m->layer_count == 0))
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the architecture has no layers", path);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}

/* Copies the PARM section into the model after checking every shape and value. */
static dcnn_status read_parameters(reader *r, uint64_t end, dcnn_model *m) {
  DCNN_TRY(need(r, 4, "the parameter count"));
  const uint32_t count = get_u32(r);
  DCNN_CHECK(count == (uint32_t)m->param_total, DCNN_ERR_BAD_FORMAT,
             "%s: byte %llu: %u parameter tensors, the architecture has %d", r->path,
             (unsigned long long)(r->at - 4), (unsigned)count, (int)m->param_total);
  for (int32_t i = 0; i < m->param_total; ++i) {
    dcnn_param p;
    DCNN_TRY(dcnn_model_param(m, i, &p, NULL));
    DCNN_TRY(need(r, 4, "a tensor rank"));
    const uint64_t at = r->at;
    const uint32_t ndim = get_u32(r);
    DCNN_CHECK(ndim == (uint32_t)p.value->shape.ndim, DCNN_ERR_BAD_FORMAT,
               "%s: byte %llu: parameter %d (%s) has rank %u, the architecture needs %d", r->path,
               (unsigned long long)at, (int)i, p.name, (unsigned)ndim, (int)p.value->shape.ndim);
    DCNN_TRY(need(r, 4 * (uint64_t)ndim, "tensor dimensions"));
    for (uint32_t d = 0; d < ndim; ++d) {
      const uint32_t dim = get_u32(r);
      DCNN_CHECK(dim == (uint32_t)p.value->shape.dims[d], DCNN_ERR_BAD_FORMAT,
                 "%s: byte %llu: parameter %d (%s) dimension %u is %u, the architecture needs %d", r->path,
                 (unsigned long long)(r->at - 4), (int)i, p.name, (unsigned)d, (unsigned)dim,
                 (int)p.value->shape.dims[d]);
    }
    DCNN_TRY(need(r, 4 * (uint64_t)p.value->count, "parameter values"));
    for (int64_t k = 0; k < p.value->count; ++k) {
      uint32_t bits = get_u32(r);
      float v;
      memcpy(&v, &bits, 4);
      DCNN_CHECK(isfinite(v), DCNN_ERR_BAD_FORMAT, "%s: byte %llu: parameter %d (%s) value %lld is not finite",
                 r->path, (unsigned long long)(r->at - 4), (int)i, p.name, (long long)k);
      p.value->data[k] = v;
    }
  }
  DCNN_CHECK(r->at == end, DCNN_ERR_BAD_FORMAT, "%s: %llu unexpected bytes at the end of the parameters (byte %llu)",
             r->path, (unsigned long long)(end - r->at), (unsigned long long)r->at);
  return DCNN_OK;
}

/* Reads one section header and checks its payload's bounds and checksum. */
static dcnn_status open_section(reader *r, uint32_t want, const char *name, uint64_t *start, uint64_t *length) {
  DCNN_TRY(need(r, SECTION_HEADER_BYTES, "a section header"));
  const uint64_t header = r->at;
  const uint32_t tag = get_u32(r), crc = get_u32(r);
  *length = get_u64(r);
  DCNN_CHECK(tag == want, DCNN_ERR_BAD_FORMAT, "%s: byte %llu: expected the %s section (tag 0x%08x), found tag 0x%08x",
             r->path, (unsigned long long)header, name, (unsigned)want, (unsigned)tag);
  DCNN_TRY(need(r, *length, name));
  const uint32_t actual = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), r->data + r->at, (size_t)*length);
  DCNN_CHECK(actual == crc, DCNN_ERR_BAD_FORMAT, "%s: the %s section (byte %llu, %llu bytes) fails its CRC-32 check",
             r->path, name, (unsigned long long)r->at, (unsigned long long)*length);
  *start = r->at;
  return DCNN_OK;
}

dcnn_status dcnn_model_load(dcnn_context *ctx, const char *path, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(path);
  uint8_t *data = NULL;
  uint64_t size = 0;
  DCNN_TRY(read_whole(path, &data, &size));
  reader r = {path, data, size, 0};
  dcnn_model *m = NULL;
  char *arch_text = NULL;
  uint64_t start = 0, length = 0;
  dcnn_status status = need(&r, HEADER_BYTES, "the header");
  if (status == DCNN_OK && memcmp(data, MAGIC, 8) != 0)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: not a libdigitcnn model file (wrong magic at byte 0)", path);
  if (status == DCNN_OK) {
    r.at = 8;
    const uint32_t version = get_u32(&r), sections = get_u32(&r);
    if (version > DCNN_MODEL_FORMAT_VERSION)
      status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "%s: format version %u is newer than this library's %d; upgrade libdigitcnn",
                          path, (unsigned)version, DCNN_MODEL_FORMAT_VERSION);
    else if (version == 0)
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: format version 0 at byte 8 is invalid", path);
    else if (sections != 2)
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: byte 12: %u sections, format version 1 has 2", path, (unsigned)sections);
  }
  if (status == DCNN_OK) status = open_section(&r, TAG_ARCH, "architecture", &start, &length);
  if (status == DCNN_OK) {
    if (memchr(data + start, '\0', length) || length > (1u << 24))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the architecture section (byte %llu) is not text", path,
                          (unsigned long long)start);
    else if (!(arch_text = malloc(length + 1)))
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  if (status == DCNN_OK) {
    memcpy(arch_text, data + start, length);
    arch_text[length] = '\0';
    r.at = start + length;
    status = build_architecture(ctx, path, arch_text, &m);
  }
  if (status == DCNN_OK) status = open_section(&r, TAG_PARM, "parameters", &start, &length);
  if (status == DCNN_OK) status = read_parameters(&r, start + length, m);
  if (status == DCNN_OK && r.at != size)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %llu unexpected bytes after the last section (byte %llu)", path,
                        (unsigned long long)(size - r.at), (unsigned long long)r.at);
  free(arch_text);
  free(data);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}
