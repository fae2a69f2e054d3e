/* Paths as messages show them: a message holds DCNN__ERROR_CAPACITY bytes,
 * and a long path must not push out what follows it (the line, the reason). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *dcnn__shown_path(const char *path, char buf[DCNN__SHOWN_PATH_MAX]) {
  const size_t length = strlen(path);
  if (length < DCNN__SHOWN_PATH_MAX) return path;
  /* a third of the room for the start (the root a user recognises), the rest for the end (the file's name) */
  size_t head = (DCNN__SHOWN_PATH_MAX - 4) / 3, tail_start = length - (DCNN__SHOWN_PATH_MAX - 4 - head);
  while (head > 0 && ((unsigned char)path[head] & 0xC0) == 0x80) --head; /* path[head] starts a character */
  while (((unsigned char)path[tail_start] & 0xC0) == 0x80) ++tail_start;
  snprintf(buf, DCNN__SHOWN_PATH_MAX, "%.*s...%s", (int)head, path, path + tail_start);
  return buf;
}
