#include "args.h"
#include "cluster.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <digitcnn.h>

static const char *program = "example";

/* getopt_long's codes: a table index + OPTION_BASE for declared options, past every char. */
#define OPTION_BASE 0x1000
#define OPTION_VERSION 0x0fff
#define MAX_OPTIONS 64

const char *example_program_name(void) { return program; }

void example_print_exit_statuses(FILE *out) {
  fprintf(out, "Options may follow other arguments; \"--\" ends the options; --opt=VALUE equals --opt VALUE.\n"
               "  --help        print this help and exit\n"
               "  --version     print the program's and the library's version and exit\n"
               "Exit status: 0 success, 1 failure at run time (data, files, a library error, a failed\n"
               "check or image), 2 bad command line (nothing was done).\n");
}

/* --help and --version under mpirun: each rank finalises MPI first (a rank that exits 0 without it makes the
 * launcher report the job as failed). A refused command line does not: the launcher ends the job on a non-zero
 * status, where a rank that finalised would leave ranks given other arguments waiting for ever. */
static _Noreturn void leave(int status) {
  if (status == EXAMPLE_EXIT_OK) example_cluster_finish();
  exit(status);
}

static int stdout_errno; /* why example_stdout_written() first failed, for the message at exit */

int example_stdout_written(void) {
  errno = 0;
  if (fflush(stdout) == 0 && !ferror(stdout)) return 1;
  if (!stdout_errno) stdout_errno = errno;
  return 0;
}

/* At exit: output lost to a full disk or a closed pipe is a failure, not a success. */
static void check_stdout_written(void) {
  if (example_stdout_written()) return;
  fprintf(stderr, "%s: cannot write the standard output: %s\n", program,
          stdout_errno ? strerror(stdout_errno) : "write error");
  _exit(EXAMPLE_EXIT_FAILURE); /* exit() again from an atexit handler is undefined */
}

static int stdin_closed;

int example_stdin_was_closed(void) { return stdin_closed; }

void example_guard_standard_fds(void) {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (fd == 0) stdin_closed = 1;
    const int null_fd = open("/dev/null", O_RDONLY); /* the lowest free number: this one, as 0..fd-1 are open */
    if (null_fd >= 0 && null_fd != fd) {
      dup2(null_fd, fd);
      close(null_fd);
    }
  }
}

example_args example_args_start(int argc, char **argv, const example_option *options, void (*usage)(FILE *out)) {
  static int hooked;
  example_guard_standard_fds();
  if (!hooked) hooked = atexit(check_stdout_written) == 0;
  example_args a;
  memset(&a, 0, sizeof a);
  a.argc = argc;
  a.argv = argv;
  a.options = options;
  a.usage = usage;
  if (argc > 0 && argv[0] && argv[0][0]) {
    const char *slash = strrchr(argv[0], '/');
    program = slash ? slash + 1 : argv[0];
  }
  return a;
}

/* Index of `name` in the table, or -1. */
static int find_option(const example_option *options, const char *name) {
  for (int i = 0; options[i].name; ++i)
    if (!strcmp(options[i].name, name)) return i;
  return -1;
}

/* "--e": which declared options it abbreviates (getopt_long says only "unrecognized"). */
static void report_unknown(const example_option *options, const char *text) {
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(text, "="), text);
  char matches[512] = "";
  size_t used = 0;
  int count = 0;
  static const example_option always[] = {{"--help", 0}, {"--version", 0}, {NULL, 0}}; /* every program's */
  const example_option *tables[2] = {options, always};
  for (int t = 0; t < 2; ++t)
    for (int i = 0; tables[t][i].name && used < sizeof matches; ++i)
      if (!strncmp(tables[t][i].name, name, strlen(name)) && name[1] == '-' && name[2])
        used += (size_t)snprintf(matches + used, sizeof matches - used, "%s%s", count++ ? ", " : "",
                                 tables[t][i].name);
  if (count > 1)
    fprintf(stderr, "%s: ambiguous option \"%s\" (%s)\n", program, text, matches);
  else
    fprintf(stderr, "%s: unknown option \"%s\" (%s --help lists the options)\n", program, text, program);
  leave(EXAMPLE_EXIT_USAGE);
}

int example_args_next(example_args *a) {
  static struct option longs[MAX_OPTIONS + 3];
  if (!longs[0].name) { /* first call: the table in getopt_long's form */
    int n = 0;
    for (; a->options && a->options[n].name; ++n) {
      if (n == MAX_OPTIONS || strncmp(a->options[n].name, "--", 2)) {
        fprintf(stderr, "%s: internal error: bad option table entry %d\n", program, n);
        abort();
      }
      longs[n] = (struct option){a->options[n].name + 2, a->options[n].takes_value ? required_argument : no_argument,
                                 NULL, OPTION_BASE + n};
    }
    longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n++] = (struct option){"version", no_argument, NULL, OPTION_VERSION};
    opterr = 0; /* our own messages, naming the program the same way */
  }
  a->arg = a->value = a->positional = NULL;
  if (a->done_options) {
    if (optind >= a->argc) return 0;
    a->positional = a->argv[optind++];
    return 1;
  }
  /* "-": positional arguments come back in order as code 1, whatever POSIXLY_CORRECT says;
   * ":": a missing value is ':' rather than '?'. */
  const int code = getopt_long(a->argc, a->argv, "-:h", longs, NULL);
  if (code == -1) { /* the end, or "--": what follows is positional */
    a->done_options = 1;
    return example_args_next(a);
  }
  if (code == 1) {
    a->positional = optarg;
    return 1;
  }
  if (code == 'h') {
    if (a->usage) a->usage(stdout);
    else printf("usage: %s\n", program);
    example_print_exit_statuses(stdout);
    leave(EXAMPLE_EXIT_OK);
  }
  if (code == OPTION_VERSION) {
    printf("%s (libdigitcnn) %s\n", program, dcnn_version_string());
    leave(EXAMPLE_EXIT_OK);
  }
  if (code == ':') {
    example_args_fail(optopt >= OPTION_BASE ? a->options[optopt - OPTION_BASE].name : a->argv[optind - 1],
                      "needs a value");
  }
  if (code == '?') {
    if (optopt >= OPTION_BASE) example_args_fail(a->options[optopt - OPTION_BASE].name, "takes no value, got \"%s\"",
                                                 a->argv[optind - 1]);
    /* "--help=x" and "--version=x": flags of every program, given a value. */
    if (optopt == 'h' || optopt == OPTION_VERSION)
      example_args_fail(optopt == 'h' ? "--help" : "--version", "takes no value, got \"%s\"", a->argv[optind - 1]);
    if (optopt > 0 && optopt < OPTION_BASE) {
      const char text[3] = {'-', (char)optopt, '\0'};
      report_unknown(a->options, text);
    }
    report_unknown(a->options, a->argv[optind - 1]);
  }
  a->arg = a->options[code - OPTION_BASE].name;
  if (a->options[code - OPTION_BASE].takes_value) {
    a->value = optarg;
    /* No option of the examples takes an empty value; an empty --out would write to "/". */
    if (!a->value[0]) example_args_fail(a->arg, "needs a value, got an empty one");
    /* "--out --quick": getopt takes the next word whatever it is, so the
     * option after a forgotten value would become it (a directory named
     * --quick, the full run instead of the quick one). A value starting with
     * "--" is taken only as --out=--x or ./--x. */
    if (optarg == a->argv[optind - 1] && optarg[0] == '-' && optarg[1] == '-')
      example_args_fail(a->arg, "needs a value, got the option \"%s\" (write %s=%s or ./%s for a value starting "
                        "with --)", optarg, a->arg, optarg, optarg);
  }
  return 1;
}

/* A name the program tests but did not declare can never match: a bug, caught on first use. */
static int is_current(const example_args *a, const char *name, int takes_value) {
  const int i = find_option(a->options, name);
  if (i < 0 || !a->options[i].takes_value != !takes_value) {
    fprintf(stderr, "%s: internal error: %s is not declared as %s\n", program, name,
            takes_value ? "an option with a value" : "a flag");
    abort();
  }
  return a->arg && !strcmp(a->arg, name);
}

int example_args_flag(const example_args *a, const char *name) { return is_current(a, name, 0); }

int example_args_option(const example_args *a, const char *name) { return is_current(a, name, 1); }

int example_args_positional(const example_args *a) { return a->positional != NULL; }

void example_args_unknown(const example_args *a) {
  if (a->positional)
    fprintf(stderr, "%s: unexpected argument \"%s\" (%s --help lists the options)\n", program, a->positional,
            program);
  else
    fprintf(stderr, "%s: option %s is not handled\n", program, a->arg ? a->arg : "");
  leave(EXAMPLE_EXIT_USAGE);
}

void example_args_fail(const char *option, const char *format, ...) {
  fprintf(stderr, "%s: %s ", program, option);
  va_list ap;
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fputc('\n', stderr);
  leave(EXAMPLE_EXIT_USAGE);
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
  /* decimal only: strtod also reads hexadecimal floats (0x1p-10), which no one means on a command line */
  const double v = starts_cleanly(text) && !strpbrk(text, "xX") ? strtod(text, &end) : 0;
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
