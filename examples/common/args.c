#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "example";

example_args example_args_start(int argc, char **argv) {
  example_args a = {argc, 1, argv, NULL, NULL};
  if (argc > 0 && argv[0] && argv[0][0]) {
    const char *slash = strrchr(argv[0], '/');
    program = slash ? slash + 1 : argv[0];
  }
  return a;
}

int example_args_next(example_args *a) {
  a->value = NULL;
  if (a->next >= a->argc) {
    a->arg = NULL;
    return 0;
  }
  a->arg = a->argv[a->next++];
  return 1;
}

int example_args_flag(const example_args *a, const char *name) { return a->arg && !strcmp(a->arg, name); }

int example_args_option(example_args *a, const char *name) {
  if (!example_args_flag(a, name)) return 0;
  if (a->next >= a->argc) example_args_fail(name, "needs a value");
  a->value = a->argv[a->next++];
  /* No option of the examples takes an empty value; an empty --out would write to "/". */
  if (!a->value[0]) example_args_fail(name, "needs a value, got an empty one");
  return 1;
}

int example_args_help(const example_args *a) {
  return example_args_flag(a, "--help") || example_args_flag(a, "-h");
}

void example_args_unknown(const example_args *a) {
  if (a->arg && a->arg[0] == '-')
    fprintf(stderr, "%s: unknown option \"%s\" (%s --help lists the options)\n", program, a->arg, program);
  else
    fprintf(stderr, "%s: unexpected argument \"%s\" (%s --help lists the options)\n", program, a->arg ? a->arg : "",
            program);
  exit(2);
}

void example_args_fail(const char *option, const char *format, ...) {
  fprintf(stderr, "%s: %s ", program, option);
  va_list ap;
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(2);
}

/* strtoll and strtod skip leading white space and accept an empty tail: the
 * whole text must be the number. */
static int starts_cleanly(const char *text) { return text[0] && !isspace((unsigned char)text[0]); }

int64_t example_parse_int(const char *option, const char *text, int64_t min, int64_t max) {
  char *end = NULL;
  errno = 0;
  const long long v = starts_cleanly(text) ? strtoll(text, &end, 10) : 0;
  if (!end || end == text || *end)
    example_args_fail(option, "takes a whole number from %" PRId64 " to %" PRId64 ", got \"%s\"", min, max, text);
  if (errno == ERANGE || v < min || v > max)
    example_args_fail(option, "takes a whole number from %" PRId64 " to %" PRId64 ", got %s (out of range)", min,
                      max, text);
  return (int64_t)v;
}

/* "[0, 1)" style: which bounds are excluded. */
static const char *interval(double min, double max, int open, char *buf, size_t size) {
  snprintf(buf, size, "%c%g, %g%c", open & EXAMPLE_ABOVE_MIN ? '(' : '[', min, max,
           open & EXAMPLE_BELOW_MAX ? ')' : ']');
  return buf;
}

double example_parse_real(const char *option, const char *text, double min, double max, int open) {
  char range[96];
  interval(min, max, open, range, sizeof range);
  char *end = NULL;
  errno = 0;
  const double v = starts_cleanly(text) ? strtod(text, &end) : 0;
  if (!end || end == text || *end) example_args_fail(option, "takes a number in %s, got \"%s\"", range, text);
  if (!isfinite(v)) example_args_fail(option, "takes a finite number in %s, got \"%s\"", range, text);
  /* ERANGE: beyond double (1e999) or below its smallest normal (1e-400, read as ~0). */
  if (errno == ERANGE || v < min || v > max || ((open & EXAMPLE_ABOVE_MIN) && v == min) ||
      ((open & EXAMPLE_BELOW_MAX) && v == max))
    example_args_fail(option, "takes a number in %s, got %s (out of range)", range, text);
  return v;
}

int example_parse_choice(const char *option, const char *text, const char *const *choices) {
  for (int i = 0; choices[i]; ++i)
    if (!strcmp(text, choices[i])) return i;
  char list[512] = "";
  size_t used = 0;
  for (int i = 0; choices[i] && used < sizeof list; ++i)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
  example_args_fail(option, "takes one of %s, got \"%s\"", list, text);
}

int64_t example_args_int(const example_args *a, int64_t min, int64_t max) {
  return example_parse_int(a->arg, a->value, min, max);
}

double example_args_real(const example_args *a, double min, double max, int open) {
  return example_parse_real(a->arg, a->value, min, max, open);
}

int example_args_choice(const example_args *a, const char *const *choices) {
  return example_parse_choice(a->arg, a->value, choices);
}

int example_parse_list(const char *option, const char *text, char *buf, size_t size, char **items, int max) {
  if (strlen(text) >= size) example_args_fail(option, "takes at most %zu characters, got %zu", size - 1, strlen(text));
  memcpy(buf, text, strlen(text) + 1);
  int count = 0;
  for (char *item = buf;; ++count) {
    char *comma = strchr(item, ',');
    if (comma) *comma = '\0';
    if (!item[0]) example_args_fail(option, "takes a comma-separated list without empty items, got \"%s\"", text);
    if (count == max) example_args_fail(option, "takes at most %d items, got \"%s\"", max, text);
    items[count] = item;
    if (!comma) return count + 1;
    item = comma + 1;
  }
}
