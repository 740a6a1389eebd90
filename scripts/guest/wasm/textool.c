/*
 * textool: a small text tool working on files in its preopen.
 *   textool upper IN OUT   copies IN to OUT in upper case
 *   textool wc FILE        prints lines, words and bytes of FILE
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "upper")) {
    FILE *in = fopen(argv[2], "r"), *out = in ? fopen(argv[3], "w") : NULL;
    if (!in || !out) {
      perror("textool");
      return 1;
    }
    int c;
    while ((c = fgetc(in)) != EOF) fputc(toupper(c), out);
    fclose(in);
    fclose(out);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "wc")) {
    FILE *in = fopen(argv[2], "r");
    if (!in) {
      perror("textool");
      return 1;
    }
    long lines = 0, words = 0, bytes = 0;
    int c, inword = 0;
    while ((c = fgetc(in)) != EOF) {
      bytes++;
      if (c == '\n') lines++;
      if (isspace(c)) inword = 0;
      else if (!inword) inword = 1, words++;
    }
    fclose(in);
    printf("%ld %ld %ld %s\n", lines, words, bytes, argv[2]);
    return 0;
  }
  fprintf(stderr, "usage: textool upper IN OUT | textool wc FILE\n");
  return 2;
}
