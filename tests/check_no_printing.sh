#!/bin/sh
# Fails if the shared library refers to the standard streams or to a function
# that prints to them or ends the process (issue #17: the library never
# prints and never exits). fprintf/fputs/fwrite to a FILE * the caller gives
# and write(2) to files the library opened are fine; those are checked at run
# time by test_progress (file descriptors 1 and 2 stay empty during a fit).
set -eu
lib="$1"
undefined=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//')
forbidden='stdout stderr stdin _IO_2_1_stdout_ _IO_2_1_stderr_
printf vprintf __printf_chk __vprintf_chk puts putchar putchar_unlocked perror psignal psiginfo
warn warnx vwarn vwarnx err errx verr verrx error error_at_line herror __assert_fail __assert
exit _exit _Exit quick_exit abort'
bad=""
for name in $forbidden; do
  if printf '%s\n' "$undefined" | grep -qx "$name"; then bad="$bad $name"; fi
done
if [ -n "$bad" ]; then
  echo "$lib uses:$bad"
  echo "the library must not print to stdout/stderr or end the process: report through dcnn_status,"
  echo "the context's log sink (dcnn__log) or the progress callback instead"
  exit 1
fi
echo "no standard-stream, printing or exiting symbols among $(printf '%s\n' "$undefined" | wc -l) undefined symbols"
