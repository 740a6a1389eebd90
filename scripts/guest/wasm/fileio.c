/*
 * File I/O, directories, seek, stat, symlinks and the errors POSIX gives, in the directory
 * named by argv[1] (a preopen). Everything printed is deterministic (no inode numbers or times),
 * so the output must be byte-identical under any conforming WASI runtime.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static char buf[8192];
static const char *P(const char *rel) {
  static char b[4][1024];
  static int i;
  i = (i + 1) % 4;
  snprintf(b[i], sizeof b[i], "%s/%s", root, rel);
  return b[i];
}
#define SHOW(label, expr)                                                          \
  do {                                                                             \
    errno = 0;                                                                     \
    long r_ = (long)(expr);                                                        \
    printf("%s -> %ld%s%s\n", label, r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(errno) : ""); \
  } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void list(const char *rel) {
  DIR *d = opendir(P(rel));
  if (!d) {
    printf("opendir %s: %s\n", rel, strerror(errno));
    return;
  }
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof(char *), cmp);
  printf("ls %s:", rel);
  for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
  printf("\n");
}
static void cat(const char *rel) {
  int fd = open(P(rel), O_RDONLY);
  if (fd < 0) {
    printf("cat %s: %s\n", rel, strerror(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  printf("cat %s: [%s]\n", rel, buf);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  root = argv[1];
  /* stdio streams */
  FILE *f = fopen(P("a.txt"), "w");
  fputs("hello\nworld\n", f);
  fclose(f);
  f = fopen(P("a.txt"), "r");
  while (fgets(buf, sizeof buf, f)) printf("read: %s", buf);
  fclose(f);
  /* seek, pread/pwrite, truncate */
  int fd = open(P("b.bin"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  SHOW("write", write(fd, "0123456789", 10));
  SHOW("lseek end", lseek(fd, 0, SEEK_END));
  SHOW("lseek set 3", lseek(fd, 3, SEEK_SET));
  ssize_t n = read(fd, buf, 4);
  printf("read 4: %.*s\n", (int)n, buf);
  SHOW("tell", lseek(fd, 0, SEEK_CUR));
  SHOW("lseek before 0", lseek(fd, -100, SEEK_CUR));
  SHOW("pwrite", pwrite(fd, "XY", 2, 8));
  n = pread(fd, buf, 10, 0);
  printf("pread: %.*s\n", (int)n, buf);
  SHOW("tell after pread", lseek(fd, 0, SEEK_CUR));
  SHOW("ftruncate", ftruncate(fd, 5));
  struct stat st;
  fstat(fd, &st);
  printf("size after truncate: %lld reg=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  SHOW("lseek past end", lseek(fd, 20, SEEK_SET));
  SHOW("write past end", write(fd, "Z", 1));
  fstat(fd, &st);
  printf("size after hole: %lld\n", (long long)st.st_size);
  close(fd);
  /* append */
  fd = open(P("log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
  write(fd, "one\n", 4);
  lseek(fd, 0, SEEK_SET);
  write(fd, "two\n", 4);
  close(fd);
  cat("log");
  /* directories */
  SHOW("mkdir d", mkdir(P("d"), 0755));
  SHOW("mkdir d/sub", mkdir(P("d/sub"), 0755));
  close(open(P("d/x"), O_WRONLY | O_CREAT, 0644));
  close(open(P("d/y"), O_WRONLY | O_CREAT, 0644));
  list("d");
  SHOW("rmdir nonempty", rmdir(P("d")));
  SHOW("rename d/y d/sub/z", rename(P("d/y"), P("d/sub/z")));
  SHOW("stat d/sub/z", stat(P("d/sub/z"), &st));
  printf("z is reg: %d\n", S_ISREG(st.st_mode));
  stat(P("d"), &st);
  printf("d is dir: %d\n", S_ISDIR(st.st_mode));
  list("d/sub");
  SHOW("unlink d/x", unlink(P("d/x")));
  /* errors */
  SHOW("open missing", open(P("missing"), O_RDONLY));
  SHOW("mkdir existing", mkdir(P("d"), 0755));
  SHOW("open through file", open(P("a.txt/x"), O_RDONLY));
  SHOW("open excl existing", open(P("a.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644));
  SHOW("rmdir file", rmdir(P("a.txt")));
  SHOW("open dir for write", open(P("d"), O_WRONLY));
  SHOW("stat missing", stat(P("nope/nope"), &st));
  SHOW("rename missing", rename(P("nope"), P("nope2")));
  /* symlinks */
  SHOW("symlink", symlink("a.txt", P("ln")));
  n = readlink(P("ln"), buf, sizeof buf);
  printf("readlink: %.*s\n", (int)n, buf);
  stat(P("ln"), &st);
  printf("stat through link: size=%lld\n", (long long)st.st_size);
  lstat(P("ln"), &st);
  printf("lstat: link=%d\n", S_ISLNK(st.st_mode));
  cat("ln");
  SHOW("unlink ln", unlink(P("ln")));
  /* rename over an existing file */
  f = fopen(P("new.txt"), "w");
  fputs("replacement", f);
  fclose(f);
  SHOW("rename over", rename(P("new.txt"), P("a.txt")));
  cat("a.txt");
  /* a bigger file, in pieces */
  fd = open(P("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 100; i++) {
    memset(buf, 'a' + i % 26, 1000);
    write(fd, buf, 1000);
  }
  close(fd);
  stat(P("big"), &st);
  printf("big: %lld\n", (long long)st.st_size);
  list(".");
  printf("done\n");
  return 0;
}
