/* Numbers in files, architecture text and reports are always written and read
 * with '.' ("0.99", never "0,99"), whatever setlocale() the program called: a
 * model saved under one locale must load under any other. The one mechanism
 * for it: every such number goes through these functions (never a bare printf
 * "%f" or strtod). */
#ifndef DCNN_CORE_C_LOCALE_H
#define DCNN_CORE_C_LOCALE_H

#include <stddef.h>

#include "internal.h"

/* Writes one number with printf's "%.*f", "%.*e" or "%.*g" (`conversion` 'f',
 * 'e', anything else 'g') at `precision`, with '.' as its decimal separator;
 * returns what snprintf returns (the length of the text written). For widths,
 * print the result with "%9s" and the like. Thread-safe. */
int dcnn__format_number(char *buf, size_t size, char conversion, int precision, double v);

/* dcnn__format_number(buf, size, 'g', precision, v). */
int dcnn__format_double(char *buf, size_t size, int precision, double v);

/* Bytes enough for any double with dcnn__format_number at precision up to 20. */
#define DCNN__NUMBER_BYTES 352

/* strtod reading '.' as the decimal separator whatever the locale: the same
 * contract (errno, *end); numbers of more than 250 characters are refused
 * (*end == text) under a locale whose separator is not '.'. Thread-safe. */
double dcnn__parse_double(const char *text, char **end);

#endif
