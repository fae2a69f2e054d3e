/* The C locale for numbers, per thread (uselocale), so that formatting and
 * parsing neither depend on nor change the process's setlocale(). */
#include "c_locale.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Created once and never changed or freed: an immutable process-wide constant. */
static locale_t c_numeric = (locale_t)0;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void c_numeric_init(void) { c_numeric = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static locale_t c_locale(void) {
  pthread_once(&c_numeric_once, c_numeric_init);
  return c_numeric;
}

dcnn__numeric_scope dcnn__c_numeric_begin(void) {
  dcnn__numeric_scope scope = {NULL};
  const locale_t c = c_locale();
  if (c != (locale_t)0) scope.previous = (void *)uselocale(c);
  return scope;
}

void dcnn__c_numeric_end(dcnn__numeric_scope scope) {
  if (scope.previous) uselocale((locale_t)scope.previous);
}

/* Without a C locale object (newlocale failed: out of memory), the current
 * locale's decimal separator is swapped for '.' after formatting. */
int dcnn__format_double(char *buf, size_t size, int precision, double v) {
  const dcnn__numeric_scope scope = dcnn__c_numeric_begin();
  int n = snprintf(buf, size, "%.*g", precision, v);
  dcnn__c_numeric_end(scope);
  if (!scope.previous && buf && size) {
    const char *point = localeconv()->decimal_point;
    char *at = point && strcmp(point, ".") ? strstr(buf, point) : NULL;
    if (at) {
      const size_t len = strlen(point);
      *at = '.';
      memmove(at + 1, at + len, strlen(at + len) + 1);
      n -= (int)(len - 1);
    }
  }
  return n;
}

double dcnn__parse_double(const char *text, char **end) {
  const dcnn__numeric_scope scope = dcnn__c_numeric_begin();
  if (scope.previous) {
    const double v = strtod(text, end);
    const int saved = errno;
    dcnn__c_numeric_end(scope);
    errno = saved;
    return v;
  }
  /* No C locale object (out of memory): strtod is right only if the locale already uses '.'. */
  const char *point = localeconv()->decimal_point;
  if (point && strcmp(point, ".") != 0) {
    if (end) *end = (char *)text;
    return 0.0;
  }
  return strtod(text, end);
}
