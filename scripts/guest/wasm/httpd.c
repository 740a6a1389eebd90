/* httpd LISTEN_FD ROOT N: a small HTTP/1.0 file server on a listening socket the host hands in.
 * Serves N requests, one connection at a time: waits with poll(), accepts, peeks at the method
 * (MSG_PEEK), reads the request head, answers GET /name with ROOT/name (200, Content-Length) or
 * 404, half-closes (shutdown SHUT_WR) and closes. Prints one line per request. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, 0);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int lfd = atoi(argv[1]);
  const char *root = argv[2];
  int n = atoi(argv[3]);
  static char buf[65536];
  for (int served = 0; served < n;) {
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int r = poll(&p, 1, 200);
    if (r < 0) { printf("poll: %s\n", strerror(errno)); return 1; }
    if (r == 0) continue; /* timeout: poll again */
    int c = accept(lfd, NULL, NULL);
    if (c < 0) { printf("accept: %s\n", strerror(errno)); return 1; }
    char method[4];
    ssize_t k = recv(c, method, sizeof method, MSG_PEEK);
    if (k < 0) { printf("recv peek: %s\n", strerror(errno)); return 1; }
    size_t have = 0;
    while (have < sizeof buf - 1) {
      k = recv(c, buf + have, sizeof buf - 1 - have, 0);
      if (k <= 0) break;
      have += (size_t)k;
      buf[have] = 0;
      if (strstr(buf, "\r\n\r\n")) break;
    }
    buf[have] = 0;
    char path[512] = {0};
    if (sscanf(buf, "GET /%511s HTTP/", path) != 1 || memcmp(method, "GET ", 4) != 0) {
      send_all(c, "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 47);
      printf("400\n");
    } else {
      char full[1024];
      snprintf(full, sizeof full, "%s/%s", root, path);
      int f = open(full, O_RDONLY);
      if (f < 0) {
        const char *nf = "HTTP/1.0 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n";
        send_all(c, nf, strlen(nf));
        printf("404 %s\n", path);
      } else {
        off_t size = lseek(f, 0, SEEK_END);
        lseek(f, 0, SEEK_SET);
        char head[128];
        int hl = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %lld\r\n\r\n", (long long)size);
        send_all(c, head, (size_t)hl);
        ssize_t m;
        while ((m = read(f, buf, sizeof buf)) > 0) send_all(c, buf, (size_t)m);
        close(f);
        printf("200 %s %lld\n", path, (long long)size);
      }
    }
    shutdown(c, SHUT_WR);
    close(c);
    served++;
  }
  return 0;
}
