/* Strict command-line parsing shared by the example programs.
 *
 * A value must be entirely a number inside its range, or one of a listed set
 * of words; anything else ends the program with status 2 and a message that
 * names the option, the value and what was expected. A typo must never become
 * a silent default ("--epochs 5x" is not 5, "--mode bogus" is not "grid").
 *
 *   example_args args = example_args_start(argc, argv);
 *   while (example_args_next(&args)) {
 *     if (example_args_flag(&args, "--quick")) quick = 1;
 *     else if (example_args_option(&args, "--epochs")) epochs = (int32_t)example_args_int(&args, 1, 1000000);
 *     else if (example_args_help(&args)) return usage(stdout), 0;
 *     else example_args_unknown(&args);
 *   }
 */
#ifndef DCNN_EXAMPLE_ARGS_H
#define DCNN_EXAMPLE_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of example_parse_real that are excluded (a learning rate > 0). */
#define EXAMPLE_ABOVE_MIN 1
#define EXAMPLE_BELOW_MAX 2

/* Seeds: what the trainer takes exactly (a whole double, at most 1e15). */
#define EXAMPLE_MAX_SEED INT64_C(1000000000000000)

/* A cursor over argv. */
typedef struct example_args {
  int argc, next;
  char **argv;
  const char *arg;   /* the current argument */
  const char *value; /* the current option's value, after example_args_option() matched */
} example_args;

/* Starts at argv[1]; remembers the program's name for messages. */
example_args example_args_start(int argc, char **argv);

/* Moves to the next argument; 0 at the end. */
int example_args_next(example_args *a);

/* 1 when the current argument is the flag `name`. */
int example_args_flag(const example_args *a, const char *name);

/* 1 when the current argument is the option `name`, whose value (the next
 * argument) it takes into a->value. A missing or empty value exits with status 2. */
int example_args_option(example_args *a, const char *name);

/* 1 for --help or -h. */
int example_args_help(const example_args *a);

/* Reports the current argument as unknown and exits with status 2. */
_Noreturn void example_args_unknown(const example_args *a);

/* Reports a bad value of `option` ("--epochs: ...") and exits with status 2. */
_Noreturn void example_args_fail(const char *option, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The current option's value as a whole number in [min, max]. */
int64_t example_args_int(const example_args *a, int64_t min, int64_t max);

/* The current option's value as a finite number in [min, max] (bounds named in
 * `open` excluded: EXAMPLE_ABOVE_MIN, EXAMPLE_BELOW_MAX). */
double example_args_real(const example_args *a, double min, double max, int open);

/* The index of the current option's value in `choices` (NULL-terminated). */
int example_args_choice(const example_args *a, const char *const *choices);

/* The same for any text, `option` naming it in messages (list items, positional arguments). */
int64_t example_parse_int(const char *option, const char *text, int64_t min, int64_t max);
double example_parse_real(const char *option, const char *text, double min, double max, int open);
int example_parse_choice(const char *option, const char *text, const char *const *choices);

/* Splits a comma-separated `text` into at most `max` non-empty items, copied
 * into `buf` (of `size` bytes); returns the count. Empty items, too many items
 * or a text longer than `buf` exit with status 2. */
int example_parse_list(const char *option, const char *text, char *buf, size_t size, char **items, int max);

#endif
