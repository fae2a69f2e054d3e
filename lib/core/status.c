#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[DCNN__ERROR_CAPACITY];
/* Counts the messages written on this thread, so that a caller of user code can
 * tell whether the callee wrote one (see dcnn__error_mark). */
static _Thread_local uint64_t messages_written;
/* The file the last message is about, in full ("" for none), and the innermost
 * dcnn__file_scope's path, which every new message takes. */
static _Thread_local char last_path[DCNN__ERROR_PATH_CAPACITY];
static _Thread_local const char *file_in_hand;

static void copy_path(char *dst, const char *src) {
  const size_t length = src ? strlen(src) : 0;
  if (length >= DCNN__ERROR_PATH_CAPACITY) {
    dst[0] = '\0'; /* a path no system call takes: none rather than a cut one */
    return;
  }
  memmove(dst, src ? src : "", length + 1); /* a caller may pass dcnn_last_error_path() back in */
}

/* Ends `s` of `length` bytes, cut short, before a UTF-8 character the cut
 * left incomplete: the binding decodes messages as UTF-8, and a lone lead
 * byte showed as U+FFFD. */
static void end_at_character(char *s, size_t length) {
  size_t lead = length;
  while (lead > 0 && length - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80) --lead;
  if (lead == 0) return;
  const unsigned char b = (unsigned char)s[lead - 1];
  const size_t needs = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  if (lead - 1 + needs > length) s[lead - 1] = '\0';
}

/* Formats into a scratch buffer first: the arguments may point into
 * last_error itself (dcnn_error_set(s, "...: %s", dcnn_last_error())). */
static void set_message(const char *fmt, va_list args) {
  char message[DCNN__ERROR_CAPACITY];
  const int n = vsnprintf(message, sizeof message, fmt, args);
  if (n < 0) message[0] = '\0';
  else if ((size_t)n >= sizeof message) end_at_character(message, sizeof message - 1);
  memcpy(last_error, message, strlen(message) + 1);
  copy_path(last_path, file_in_hand);
  ++messages_written;
}

const char *dcnn__file_scope_enter(const char *path) {
  const char *enclosing = file_in_hand;
  file_in_hand = path;
  return enclosing;
}

void dcnn__file_scope_leave(const char *enclosing) { file_in_hand = enclosing; }

const char *dcnn_status_str(dcnn_status status) {
  switch (status) {
    case DCNN_OK: return "ok";
    case DCNN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DCNN_ERR_OUT_OF_MEMORY: return "out of memory";
    case DCNN_ERR_IO: return "I/O error";
    case DCNN_ERR_BAD_FORMAT: return "bad format";
    case DCNN_ERR_SHAPE_MISMATCH: return "shape mismatch";
    case DCNN_ERR_UNSUPPORTED: return "unsupported";
    case DCNN_ERR_NOT_FOUND: return "not found";
    case DCNN_ERR_INVALID_STATE: return "invalid state";
    case DCNN_ERR_NUMERIC: return "numerical error";
    case DCNN_ERR_CANCELLED: return "cancelled";
  }
  return "unknown status";
}

const char *dcnn_last_error(void) { return last_error; }

const char *dcnn_last_error_path(void) { return last_path; }

void dcnn_clear_error(void) {
  last_error[0] = '\0';
  last_path[0] = '\0';
}

dcnn_status dcnn__fail(dcnn_status status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  set_message(fmt, args);
  va_end(args);
  return status;
}

dcnn_status dcnn_error_set(dcnn_status status, const char *fmt, ...) {
  if (!fmt) return dcnn__fail(status, "%s", dcnn_status_str(status));
  va_list args;
  va_start(args, fmt);
  set_message(fmt, args);
  va_end(args);
  return status;
}

uint64_t dcnn__error_mark(void) { return messages_written; }

void dcnn__error_save(dcnn__error_saved *saved) {
  memcpy(saved->text, last_error, strlen(last_error) + 1);
  memcpy(saved->path, last_path, strlen(last_path) + 1);
  saved->written = messages_written;
}

void dcnn__error_restore(const dcnn__error_saved *saved) {
  memcpy(last_error, saved->text, strlen(saved->text) + 1);
  memcpy(last_path, saved->path, strlen(saved->path) + 1);
  messages_written = saved->written;
}

dcnn_status dcnn__callee_error(dcnn_status status, uint64_t mark, const char *fmt, ...) {
  if (status == DCNN_OK) return status;
  char prefix[256];
  va_list args;
  va_start(args, fmt);
  if (vsnprintf(prefix, sizeof prefix, fmt, args) < 0) prefix[0] = '\0';
  va_end(args);
  if (messages_written == mark)
    return dcnn__fail(status, "%s: failed with '%s' without setting a message", prefix, dcnn_status_str(status));
  return dcnn__wrap_error(status, "%s", prefix);
}

dcnn_status dcnn__wrap_error(dcnn_status status, const char *fmt, ...) {
  char prefix[256];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(prefix, sizeof prefix - 2, fmt, args);
  va_end(args);
  if (n < 0) return status;
  if ((size_t)n >= sizeof prefix - 2) end_at_character(prefix, sizeof prefix - 3);
  size_t plen = strlen(prefix);
  memcpy(prefix + plen, ": ", 3);
  plen += 2;
  /* Shift the existing message right to make room for the prefix. */
  size_t keep = strlen(last_error);
  const int cut = keep > sizeof last_error - 1 - plen;
  if (cut) keep = sizeof last_error - 1 - plen;
  memmove(last_error + plen, last_error, keep);
  last_error[plen + keep] = '\0';
  if (cut) end_at_character(last_error + plen, keep);
  memcpy(last_error, prefix, plen);
  ++messages_written;
  return status;
}
