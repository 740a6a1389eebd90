/* iobench DIR MB: writes MB MiB in 64 KiB blocks, reads them back, prints a checksum. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static unsigned char block[65536];
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  char path[512];
  snprintf(path, sizeof path, "%s/iobench.dat", argv[1]);
  int mb = atoi(argv[2]);
  for (int i = 0; i < (int)sizeof block; i++) block[i] = (unsigned char)(i * 7);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < mb * 16; i++) write(fd, block, sizeof block);
  lseek(fd, 0, SEEK_SET);
  unsigned long sum = 0;
  ssize_t n;
  while ((n = read(fd, block, sizeof block)) > 0)
    for (ssize_t i = 0; i < n; i += 4096) sum += block[i];
  close(fd);
  unlink(path);
  printf("%lu\n", sum);
  return 0;
}
