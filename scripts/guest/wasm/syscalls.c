/*
 * syscalls DIR MODE N: N system calls in a loop. MODE "seek" (lseek: answered in the module's
 * thread), "fstat" (a file-system round trip), "clock" (clock_gettime).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  char path[512];
  snprintf(path, sizeof path, "%s/syscalls.dat", argv[1]);
  long n = atol(argv[3]);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  write(fd, "x", 1);
  long acc = 0;
  struct stat st;
  struct timespec t;
  for (long i = 0; i < n; i++) {
    if (!strcmp(argv[2], "seek")) acc += lseek(fd, 0, SEEK_SET);
    else if (!strcmp(argv[2], "fstat")) acc += fstat(fd, &st) == 0 ? st.st_size : 0;
    else acc += clock_gettime(CLOCK_MONOTONIC, &t) == 0;
  }
  close(fd);
  unlink(path);
  printf("%ld\n", acc);
  return 0;
}
