/* Clocks, sleeping and poll(): prints only what any conforming runtime must agree on. */
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static long long ms(struct timespec t) { return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000; }
int main(int argc, char **argv) {
  struct timespec a, b, r;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec req = {0, 30 * 1000000};
  nanosleep(&req, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("nanosleep 30ms: %s\n", ms(b) - ms(a) >= 29 ? "ok" : "too short");
  clock_gettime(CLOCK_REALTIME, &a);
  printf("realtime after 2020: %d\n", a.tv_sec > 1577836800);
  printf("time(): %d\n", time(NULL) > 1577836800);
  printf("getres monotonic: %d\n", clock_getres(CLOCK_MONOTONIC, &r) == 0 && r.tv_sec == 0 && r.tv_nsec > 0);
  printf("getres realtime: %d\n", clock_getres(CLOCK_REALTIME, &r) == 0 && r.tv_sec == 0 && r.tv_nsec > 0);
  clock_gettime(CLOCK_MONOTONIC, &a);
  int n = poll(NULL, 0, 20);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("poll timeout: %d %s\n", n, ms(b) - ms(a) >= 19 ? "waited" : "early");
  struct pollfd p = {.fd = 1, .events = POLLOUT};
  n = poll(&p, 1, 0);
  printf("poll stdout: %d out=%d\n", n, (p.revents & POLLOUT) != 0);
  if (argc > 1) {
    char path[512];
    snprintf(path, sizeof path, "%s/pollfile", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "abc", 3);
    lseek(fd, 0, SEEK_SET);
    struct pollfd q = {.fd = fd, .events = POLLIN};
    n = poll(&q, 1, 1000);
    printf("poll file: %d in=%d\n", n, (q.revents & POLLIN) != 0);
    close(fd);
    unlink(path);
  }
  return 0;
}
