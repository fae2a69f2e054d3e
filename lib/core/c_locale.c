/* Numbers with '.' whatever the locale, and without locale objects: printf
 * and strtod run in the calling thread's locale, and only its decimal
 * separator is translated, which this thread reads by formatting 0.5. Nothing
 * here creates, switches or queries a locale (no newlocale, uselocale or
 * localeconv), so there is no state to set up, no fallback path, and nothing
 * that differs between threads or fails for lack of memory. */
#include "c_locale.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POINT_BYTES 8 /* a decimal separator is one character; in UTF-8, at most 4 bytes */

/* The current locale's decimal separator, NUL-terminated, as printf writes it ("0,5" gives ","). */
static size_t decimal_point(char point[POINT_BYTES]) {
  char probe[POINT_BYTES + 4];
  const int n = snprintf(probe, sizeof probe, "%.1f", 0.5);
  size_t len = n >= 3 && (size_t)n < sizeof probe ? (size_t)n - 2 : 0;
  if (len == 0 || probe[0] != '0' || probe[n - 1] != '5') len = 0; /* cannot happen: assume '.' */
  if (len) memcpy(point, probe + 1, len);
  else point[len++] = '.';
  point[len] = '\0';
  return len;
}

int dcnn__format_number(char *buf, size_t size, char conversion, int precision, double v) {
  int n = -1;
  switch (conversion) {
    case 'f': n = snprintf(buf, size, "%.*f", precision, v); break;
    case 'e': n = snprintf(buf, size, "%.*e", precision, v); break;
    default: n = snprintf(buf, size, "%.*g", precision, v); break;
  }
  char point[POINT_BYTES];
  const size_t len = decimal_point(point);
  if (n < 0 || !buf || !size || (len == 1 && point[0] == '.')) return n;
  /* One number has at most one separator; it becomes '.', and the text shrinks if it was longer. */
  char *at = strstr(buf, point);
  if (!at) return n;
  *at = '.';
  memmove(at + 1, at + len, strlen(at + len) + 1);
  return n - (int)(len - 1);
}

int dcnn__format_double(char *buf, size_t size, int precision, double v) {
  return dcnn__format_number(buf, size, 'g', precision, v);
}

/* How many bytes of `text` strtod could read as a number (sign, digits, '.', exponent, hex, inf, nan). */
static size_t number_span(const char *text) {
  size_t n = 0;
  while (text[n] && strchr("+-.0123456789abcdefinptxyABCDEFINPTXY", text[n])) ++n;
  return n;
}

double dcnn__parse_double(const char *text, char **end) {
  char point[POINT_BYTES];
  const size_t len = decimal_point(point);
  if (len == 1 && point[0] == '.') return strtod(text, end);
  /* Another separator: strtod reads a copy in which '.' is the locale's, and `end` is mapped back. A number
   * longer than the copy can hold is refused (as not a number) rather than read cut short. Leading white
   * space is skipped, as strtod skips it in the C locale. */
  const char *given = text;
  while (isspace((unsigned char)*text)) ++text;
  char copy[256];
  const size_t span = number_span(text);
  const char *dot = memchr(text, '.', span);
  if (span + len >= sizeof copy) {
    if (end) *end = (char *)given;
    return 0.0;
  }
  size_t at = 0;
  if (dot) {
    const size_t before = (size_t)(dot - text);
    memcpy(copy, text, before);
    memcpy(copy + before, point, len);
    memcpy(copy + before + len, dot + 1, span - before - 1);
    at = span - 1 + len;
  } else {
    memcpy(copy, text, span);
    at = span;
  }
  copy[at] = '\0';
  char *copy_end = NULL;
  const double v = strtod(copy, &copy_end);
  const int saved = errno;
  if (end) {
    size_t read = (size_t)(copy_end - copy);
    if (dot && read > (size_t)(dot - text)) read -= len - 1; /* past the separator: back to the '.' */
    *end = read ? (char *)text + read : (char *)given; /* nothing read: the text given, as strtod */
  }
  errno = saved;
  return v;
}
