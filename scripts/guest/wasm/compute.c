/* compute N: CPU only, no system call in the loop: primes below N (sieve) and an FNV-1a hash. */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000000;
  unsigned char *composite = calloc(n + 1, 1);
  long count = 0;
  unsigned int h = 2166136261u;
  for (long i = 2; i <= n; i++) {
    if (composite[i]) continue;
    count++;
    h = (h ^ (unsigned int)i) * 16777619u;
    if (i <= n / i)
      for (long j = i * i; j <= n; j += i) composite[j] = 1;
  }
  for (int r = 0; r < 20; r++)
    for (long i = 0; i <= n; i += 7) h = (h ^ composite[i]) * 16777619u;
  printf("%ld %u\n", count, h);
  return 0;
}
