/* Numbers in files, architecture text and reports are always written and read
 * in the C locale ("0.99", never "0,99"), whatever setlocale() the program
 * called: a model saved under one locale must load under any other. */
#ifndef DCNN_CORE_C_LOCALE_H
#define DCNN_CORE_C_LOCALE_H

#include <stddef.h>

#include "internal.h"

/* Writes `v` with printf's "%.*g" at `precision` significant digits, in the C
 * locale; returns what snprintf returns. */
int dcnn__format_double(char *buf, size_t size, int precision, double v);

/* strtod in the C locale: the same contract (errno, *end), thread-safe. */
double dcnn__parse_double(const char *text, char **end);

/* Brackets a run of printf-family calls that must use the C locale on the
 * calling thread (e.g. a CSV or JSON report): pass what begin returned to end. */
typedef struct dcnn__numeric_scope {
  void *previous; /* the thread's locale_t before begin, or NULL if unchanged */
} dcnn__numeric_scope;
dcnn__numeric_scope dcnn__c_numeric_begin(void);
void dcnn__c_numeric_end(dcnn__numeric_scope scope);

#endif
