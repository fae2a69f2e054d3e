/* Strict command-line parsing shared by the example programs, on getopt_long.
 *
 * A value must be entirely a number inside its range, or one of a listed set
 * of words; anything else ends the program with status 2 and a message that
 * names the option, the value and what was expected. A typo must never become
 * a silent default ("--epochs 5x" is not 5, "--mode bogus" is not "grid").
 *
 * Every program declares its options in a table and answers --help (its usage
 * on stdout, then the exit statuses; status 0) and --version (the program and
 * library versions; status 0) without listing them. Options may come after
 * positional arguments, "--opt=value" equals "--opt value", a unique prefix
 * of a long option is accepted (getopt_long), and "--" ends the options.
 *
 *   static const example_option options[] = {{"--quick", 0}, {"--epochs", 1}, {NULL, 0}};
 *   example_args args = example_args_start(argc, argv, options, usage);
 *   while (example_args_next(&args)) {
 *     if (example_args_flag(&args, "--quick")) quick = 1;
 *     else if (example_args_option(&args, "--epochs")) epochs = (int32_t)example_args_int(&args, 1, 1000000);
 *     else if (example_args_positional(&args)) file = args.positional;
 *     else example_args_unknown(&args);
 *   }
 *
 * Exit statuses, the same in every program (docs/cli.md):
 *   0 success, 1 failure at run time (data, files, a library error, a failed
 *   check or image), 2 bad command line (nothing was done). */
#ifndef DCNN_EXAMPLE_ARGS_H
#define DCNN_EXAMPLE_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (see above). */
#define EXAMPLE_EXIT_OK 0
#define EXAMPLE_EXIT_FAILURE 1
#define EXAMPLE_EXIT_USAGE 2

/* Bounds of example_parse_real that are excluded (a learning rate > 0). */
#define EXAMPLE_ABOVE_MIN 1
#define EXAMPLE_BELOW_MAX 2

/* Seeds: what the trainer takes exactly (a whole double, at most 1e15). */
#define EXAMPLE_MAX_SEED INT64_C(1000000000000000)

/* One long option: its name with the dashes ("--epochs") and whether it takes
 * a value. A table ends with a NULL name; --help, -h and --version are added. */
typedef struct example_option {
  const char *name;
  int takes_value;
} example_option;

/* A cursor over the command line. */
typedef struct example_args {
  int argc;
  char **argv;
  const example_option *options;
  void (*usage)(FILE *out);
  int done_options;       /* getopt_long has returned -1: the rest are positional */
  const char *arg;        /* the current option's name (the table's string), else NULL */
  const char *value;      /* the current option's value, or NULL */
  const char *positional; /* the current positional argument, or NULL */
} example_args;

/* Starts at argv[1]; remembers the program's name for messages. `usage`
 * prints the synopsis and options to `out` (the exit statuses follow it). */
example_args example_args_start(int argc, char **argv, const example_option *options, void (*usage)(FILE *out));

/* Opens /dev/null, read-only, on each of file descriptors 0, 1 and 2 that is closed (`prog >&-`): the next file
 * the program opened (its lock file, a model) would otherwise get that number and receive its output, and the
 * run report success. Writes to it then fail, and lost output is reported (status 1). example_args_start() and
 * example_cluster_start() call it first. */
void example_guard_standard_fds(void);

/* Whether example_guard_standard_fds() found standard input closed (a list read from it is then no empty list). */
int example_stdin_was_closed(void);

/* Moves to the next option or positional argument; 0 at the end. --help and
 * --version print and exit with status 0 here; an unknown option or a missing
 * or empty value exits with status 2. */
int example_args_next(example_args *a);

/* 1 when the current argument is the flag `name` (declared without a value). */
int example_args_flag(const example_args *a, const char *name);

/* 1 when the current argument is the option `name` (declared with a value),
 * whose value is in a->value. */
int example_args_option(const example_args *a, const char *name);

/* 1 when the current argument is a positional one (in a->positional). */
int example_args_positional(const example_args *a);

/* Reports the current argument as unexpected and exits with status 2. */
_Noreturn void example_args_unknown(const example_args *a);

/* Reports a bad value of `option` ("--epochs: ...") and exits with status 2. */
_Noreturn void example_args_fail(const char *option, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The program's name as invoked, without its directory (for messages). */
const char *example_program_name(void);

/* The footer of every --help: options after positionals, --, the exit statuses. */
void example_print_exit_statuses(FILE *out);

/* Flushes the standard output: 1 when everything printed so far was written,
 * 0 once a write failed (a full disk, a closed pipe). The check at exit then
 * reports the first failure's reason and exits 1. */
int example_stdout_written(void);

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
