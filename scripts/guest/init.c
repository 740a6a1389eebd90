/*
 * The guest's /init: a tiny static program (Linux's own nolibc, no C library) that checks what
 * the virt machine gives a Linux guest and powers off. Every result is one line on the console,
 * "honk-init: <check>: <result>", so a host test can assert on them. The checks to run come
 * from the kernel command line: honk.checks=basic,9p (default basic).
 *
 *   basic: harts in /proc/cpuinfo, a known sector of /dev/vda, /dev/hwrng, eth0 up, timers
 *          (sleeps on every hart, all of them idle at once)
 *   nvme:  the same known sector of /dev/nvme0n1, then 8 MiB written and read back (O_DIRECT)
 *   diskbench: 4 KiB O_DIRECT sequential/random writes and reads on /dev/nvme0n1 and /dev/vda
 *   9p:    mount the virtio-9p share "honk" at /mnt and run a file workload on it
 *   net:   eth0's address (the kernel's own DHCP: ip=dhcp on the command line), then
 *          honk.fetch=<ip>:<port>:<bytes> fetches http://<ip>:<port>/<bytes> and prints the
 *          body's length and hash (honk.fetch=<ip>:<port>:/<path>: that path, its status, length
 *          and first line; the word may be repeated); honk.serve=<port>:<bytes>:<count> answers <count> HTTP
 *          requests with <bytes> of the pattern (its hash printed first). The pattern and
 *          hash are the 9p workload's, so the host computes the same numbers.
 *   display: /dev/fb0 is there (virtio-gpu with fbdev emulation), then lines are written to
 *          /dev/tty1, the virtual terminal fbcon draws on the framebuffer; with honk.type=1 it
 *          then reads one line from tty1 (typed on the virtio keyboard: the VT's keyboard
 *          handler feeds the foreground console) and prints it, on the console and on tty1.
 *          Needs the display kernel (build-linux.sh --variant display). honk.tablet=1 first
 *          lists /proc/bus/input/devices' names and reads the tablet's /dev/input/eventN until
 *          a left-button press (printing the absolute x, y); honk.scroll=N last writes N more
 *          lines to tty1 (fbcon scrolls: the display benchmark; with honk.type=1 it then waits
 *          for one more line); honk.reboot=1 restarts the
 *          machine at the end instead of powering it off. honk.shell=1 (after the line read,
 *          before the scroll) runs BusyBox's /bin/sh on tty1, tty1 its controlling terminal,
 *          and waits for it to exit (typed `exit` on the virtio keyboard).
 *
 * Built by scripts/guest/build-initramfs.sh with riscv64-linux-gnu-gcc -nostdlib -static.
 */
#include "nolibc.h"

#define AF_INET 2
#define SOCK_DGRAM 2
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define IFF_UP 0x1
#define IFF_RUNNING 0x40

static int failures;

/*
 * One report line in one write(2): the kernel's own console messages (printk) can land between
 * two writes, splitting "honk-init: " from its check on the host's console. (They can still land
 * inside one write while the UART drains it; the host's ConsoleSession moves such a record to
 * after the line it split.)
 */
static void say(const char *a, const char *b, const char *c)
{
	static char line[1024];
	const char *parts[] = { "honk-init: ", a, b, c, "\n" };
	unsigned long n = 0;
	for (int i = 0; i < 5; i++) {
		if (!parts[i]) continue;
		unsigned long len = strlen(parts[i]);
		if (n + len > sizeof(line)) { write(1, line, n); n = 0; }
		if (len > sizeof(line)) { write(1, parts[i], len); continue; }
		memcpy(line + n, parts[i], len);
		n += len;
	}
	write(1, line, n);
}

static void fail(const char *what, const char *detail)
{
	failures++;
	say(what, ": FAIL ", detail);
}

static char *utoa_buf(unsigned long v, char *buf)
{
	char tmp[24];
	int n = 0;
	do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
	for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}

static char *hex_buf(unsigned long v, char *buf)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) buf[i] = digits[(v >> (60 - 4 * i)) & 15];
	buf[16] = 0;
	return buf;
}

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static long slurp(const char *path, char *buf, long size)
{
	int fd = open(path, O_RDONLY, 0);
	if (fd < 0) return -1;
	long n = 0, r;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0) n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

static int contains(const char *hay, const char *needle)
{
	for (; *hay; hay++) {
		const char *a = hay, *b = needle;
		while (*a && *b && *a == *b) a++, b++;
		if (!*b) return 1;
	}
	return 0;
}

static unsigned long check_harts(void)
{
	static char buf[16384];
	char num[24];
	if (slurp("/proc/cpuinfo", buf, sizeof buf) < 0) { fail("harts", "cannot read /proc/cpuinfo"); return 1; }
	unsigned long n = 0;
	for (char *p = buf; *p; p++)
		if ((p == buf || p[-1] == '\n') && !strncmp(p, "processor", 9)) n++;
	say("harts: ", utoa_buf(n, num), 0);
	return n;
}

struct ts64 { long sec; long nsec; };

static long now_ns(void)
{
	struct ts64 t;
	my_syscall2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &t);
	return t.sec * 1000000000L + t.nsec;
}

/*
 * Timers while every hart idles (issue #12 case 12): one child pinned to each hart sleeps 8
 * times for 1-8 ms, so all harts wait in WFI at once with hrtimers armed, and a tickless idle
 * hart leaves its last timer in the past, masked. Each sleep must end (a lost wake-up hangs
 * here) and last at least what was asked on the monotonic clock.
 */
#define SLEEPS 8
static void check_timers(unsigned long harts)
{
	char num[24];
	for (unsigned long c = 0; c < harts; c++) {
		pid_t pid = fork();
		if (pid < 0) return fail("timers", "fork");
		if (pid == 0) {
			unsigned long mask = 1ul << c;
			if (my_syscall3(__NR_sched_setaffinity, 0, sizeof mask, &mask) < 0) exit(2);
			for (unsigned long i = 0; i < SLEEPS; i++) {
				struct ts64 ts = { 0, (long)(1 + (i * 3 + c) % 8) * 1000000L };
				long t0 = now_ns();
				if (my_syscall2(__NR_nanosleep, &ts, 0) < 0) exit(3);
				if (now_ns() - t0 < ts.nsec) exit(4);
			}
			exit(0);
		}
	}
	unsigned long ok = 0;
	for (unsigned long c = 0; c < harts; c++) {
		int status = 0;
		if (wait4(-1, &status, 0, 0) < 0) return fail("timers", "wait");
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
	}
	if (ok != harts) return fail("timers", "a sleep failed or ended early");
	say("timers: ", utoa_buf(SLEEPS, num), " sleeps ok on every hart");
}

/* The host writes a known pattern into sector 1 of the disk: "HONK-SECTOR-1" then bytes i&0xff. */
static void check_vda(void)
{
	unsigned char sector[512];
	char h[20];
	int fd = open("/dev/vda", O_RDONLY, 0);
	if (fd < 0) return fail("vda", "cannot open /dev/vda");
	if (lseek(fd, 512, SEEK_SET) != 512 || read(fd, sector, 512) != 512) { close(fd); return fail("vda", "cannot read sector 1"); }
	close(fd);
	unsigned long sum = 0;
	for (int i = 0; i < 512; i++) sum = sum * 31 + sector[i];
	if (memcmp(sector, "HONK-SECTOR-1", 13)) return fail("vda", "sector 1 does not hold the host's pattern");
	say("vda: sector 1 ok, hash ", hex_buf(sum, h), 0);
}

static void check_hwrng(void)
{
	unsigned char a[32], b[32];
	int fd = open("/dev/hwrng", O_RDONLY, 0);
	if (fd < 0) return fail("hwrng", "cannot open /dev/hwrng");
	long ra = read(fd, a, sizeof a), rb = read(fd, b, sizeof b);
	close(fd);
	if (ra != 32 || rb != 32) return fail("hwrng", "short read");
	if (!memcmp(a, b, 32)) return fail("hwrng", "two reads returned the same bytes");
	say("hwrng: ok", 0, 0);
}

struct ifreq_flags {
	char name[16];
	short flags;
	char pad[22];
};

static void check_eth0(void)
{
	struct ifreq_flags ifr;
	int s = my_syscall3(__NR_socket, AF_INET, SOCK_DGRAM, 0);
	if (s < 0) return fail("eth0", "no socket");
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.name, "eth0", 5);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { close(s); return fail("eth0", "no such interface"); }
	ifr.flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { close(s); return fail("eth0", "cannot bring it up"); }
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.flags & IFF_UP)) { close(s); return fail("eth0", "not up after SIOCSIFFLAGS"); }
	close(s);
	say("eth0: up", 0, 0);
}

/* ---- 9p workload ---- */

static int write_all(int fd, const void *p, long n)
{
	const char *c = p;
	while (n > 0) {
		long w = write(fd, c, n);
		if (w <= 0) return -1;
		c += w, n -= w;
	}
	return 0;
}

static int put(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0) return -1;
	int r = write_all(fd, text, strlen(text));
	close(fd);
	return r;
}

/* files: entries made in many/ (honk.9p.files=, default 1000); mib: size of big.bin (honk.9p.mib=, default 16). */
static void check_9p(unsigned long files, unsigned long mib)
{
	static char buf[4096];
	static unsigned char chunk[65536];
	static char dents[32768];
	char num[24], h[20];
	mkdir("/mnt", 0755);
	if (mount("honk", "/mnt", "9p", 0, "trans=virtio,version=9p2000.L,msize=131072") < 0) return fail("9p", "mount failed");
	say("9p: mounted", 0, 0);
	if (mkdir("/mnt/guest", 0755) < 0) return fail("9p", "mkdir /mnt/guest");
	if (put("/mnt/guest/hello.txt", "hello from the guest\n", O_TRUNC) < 0) return fail("9p", "create hello.txt");
	if (put("/mnt/guest/hello.txt", "appended line\n", O_APPEND) < 0) return fail("9p", "append hello.txt");
	if (slurp("/mnt/guest/hello.txt", buf, sizeof buf) < 0 || strcmp(buf, "hello from the guest\nappended line\n")) return fail("9p", "read back hello.txt");
	if (slurp("/mnt/host.txt", buf, sizeof buf) < 0) return fail("9p", "read host.txt");
	say("9p: host.txt says ", buf, 0);
	if (my_syscall5(__NR_renameat2, AT_FDCWD, "/mnt/guest/hello.txt", AT_FDCWD, "/mnt/guest/renamed.txt", 0) < 0) return fail("9p", "rename");
	if (put("/mnt/guest/doomed.txt", "x", O_TRUNC) < 0 || unlink("/mnt/guest/doomed.txt") < 0) return fail("9p", "unlink");
	/* `files` entries, then count them with getdents64. */
	mkdir("/mnt/guest/many", 0755);
	for (unsigned long i = 0; i < files; i++) {
		char name[64] = "/mnt/guest/many/f";
		utoa_buf(i, name + strlen(name));
		if (put(name, "", O_TRUNC) < 0) return fail("9p", "create in many/");
	}
	int dfd = open("/mnt/guest/many", O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0) return fail("9p", "open many/");
	unsigned long entries = 0;
	long n;
	while ((n = getdents64(dfd, (struct linux_dirent64 *)dents, sizeof dents)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) entries++;
			off += d->d_reclen;
		}
	}
	close(dfd);
	if (entries != files) return fail("9p", "readdir of many/ did not list every entry made");
	say("9p: readdir many/: ", utoa_buf(entries, num), " entries");
	/* A file of `mib` MiB of a known pattern, written then read back with a checksum. */
	int fd = open("/mnt/guest/big.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) return fail("9p", "create big.bin");
	unsigned long sum = 0;
	for (unsigned long off = 0; off < (mib << 20); off += sizeof chunk) {
		for (unsigned long i = 0; i < sizeof chunk; i++) chunk[i] = (unsigned char)((off + i) * 2654435761ul >> 13);
		if (write_all(fd, chunk, sizeof chunk) < 0) { close(fd); return fail("9p", "write big.bin"); }
		for (unsigned long i = 0; i < sizeof chunk; i++) sum = sum * 31 + chunk[i];
	}
	close(fd);
	fd = open("/mnt/guest/big.bin", O_RDONLY, 0);
	unsigned long back = 0, total = 0;
	long r;
	while ((r = read(fd, chunk, sizeof chunk)) > 0) {
		for (long i = 0; i < r; i++) back = back * 31 + chunk[i];
		total += r;
	}
	close(fd);
	if (total != (mib << 20) || back != sum) return fail("9p", "big.bin read back differs");
	char line[64] = "9p: big.bin ";
	utoa_buf(mib, line + strlen(line));
	memcpy(line + strlen(line), " MiB checksum ", sizeof " MiB checksum ");
	say(line, hex_buf(sum, h), 0);
	umount2("/mnt", 0);
	say("9p: done", 0, 0);
}

/* ---- net: Linux's TCP/IP stack against whatever is on the other end of eth0 ---- */

#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SIOCGIFADDR 0x8915

struct sockaddr_in4 {
	unsigned short family;
	unsigned short port; /* big-endian */
	unsigned int addr;   /* big-endian */
	unsigned char zero[8];
};

static unsigned char pattern_byte(unsigned long i)
{
	return (unsigned char)(i * 2654435761ul >> 13);
}

/* "a.b.c.d" at *p (advanced past it) as a big-endian address; 0 when malformed. */
static unsigned int parse_ip(const char **p)
{
	unsigned int out = 0;
	for (int part = 0; part < 4; part++) {
		unsigned long v = 0;
		int digits = 0;
		while (**p >= '0' && **p <= '9') v = v * 10 + (*(*p)++ - '0'), digits++;
		if (!digits || v > 255) return 0;
		out |= (unsigned int)v << (8 * part); /* stored in network order on a little-endian hart */
		if (part < 3 && *(*p)++ != '.') return 0;
	}
	return out;
}

static unsigned long parse_num(const char **p)
{
	unsigned long v = 0;
	while (**p >= '0' && **p <= '9') v = v * 10 + (*(*p)++ - '0');
	return v;
}

static unsigned short be16(unsigned short v) { return (unsigned short)((v >> 8) | (v << 8)); }

/* The value of "name=" in the command line, or 0. */
static const char *param(const char *cmdline, const char *name)
{
	unsigned long n = strlen(name);
	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, name, n)) return p + n;
	return 0;
}

static void check_net_address(void)
{
	struct { char name[16]; struct sockaddr_in4 addr; char pad[8]; } ifr;
	char num[24];
	int s = my_syscall3(__NR_socket, AF_INET, SOCK_DGRAM, 0);
	if (s < 0) return fail("net", "no socket");
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.name, "eth0", 5);
	long r = ioctl(s, SIOCGIFADDR, &ifr);
	close(s);
	if (r < 0) return fail("net", "eth0 has no IPv4 address (did the kernel's DHCP get a lease?)");
	char text[20], *t = text;
	for (int i = 0; i < 4; i++) {
		char *d = utoa_buf((ifr.addr.addr >> (8 * i)) & 255, num);
		while (*d) *t++ = *d++;
		if (i < 3) *t++ = '.';
	}
	*t = 0;
	say("net: eth0 ip=", text, 0);
}

/*
 * honk.fetch=<ip>:<port>:<bytes> GETs /<bytes> and checks the body is that long ("net fetch: N",
 * "net fetch hash: H"); honk.fetch=<ip>:<port>:/<path> GETs that path and prints the status,
 * the body's length and its first line ("net fetch <ip>:<port>/<path>: 200, N bytes: <line>").
 * The word may be given several times (each is fetched in order).
 */
static void check_net_fetch(const char *spec)
{
	static unsigned char buf[65536];
	char num[24], h[20], line[72], status[4] = { 0 };
	const char *target = spec;
	unsigned int ip = parse_ip(&spec);
	if (!ip || *spec++ != ':') return fail("net fetch", "honk.fetch=<ip>:<port>:<bytes> or <ip>:<port>:/<path>");
	unsigned long port = parse_num(&spec);
	if (*spec++ != ':') return fail("net fetch", "honk.fetch=<ip>:<port>:<bytes> or <ip>:<port>:/<path>");
	int by_path = *spec == '/';
	unsigned long want = by_path ? 0 : parse_num(&spec);
	int s = my_syscall3(__NR_socket, AF_INET, SOCK_STREAM, 0);
	if (s < 0) return fail("net fetch", "no socket");
	struct sockaddr_in4 sa = { AF_INET, be16((unsigned short)port), ip, { 0 } };
	if (my_syscall3(__NR_connect, s, &sa, sizeof sa) < 0) { close(s); return fail("net fetch", "connect failed"); }
	char req[200] = "GET ";
	if (by_path) {
		unsigned long n = 0;
		while (spec[n] && spec[n] != ' ' && n < 100) n++;
		memcpy(req + 4, spec, n);
		req[4 + n] = 0;
	} else {
		req[4] = '/';
		utoa_buf(want, req + 5);
	}
	memcpy(req + strlen(req), " HTTP/1.0\r\n\r\n", 14);
	if (write_all(s, req, strlen(req)) < 0) { close(s); return fail("net fetch", "send failed"); }
	/* Headers end at the first blank line; the body is everything after it. */
	unsigned long body = 0, sum = 0, head = 0, ln = 0;
	int in_body = 0, crlf = 0, line_done = 0;
	long n;
	while ((n = read(s, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n; i++) {
			if (in_body) {
				sum = sum * 31 + buf[i];
				body++;
				if (!line_done && (buf[i] == '\n' || ln == sizeof line - 1)) line_done = 1;
				else if (!line_done) line[ln++] = buf[i];
				continue;
			}
			if (head >= 9 && head < 12) status[head - 9] = buf[i]; /* "HTTP/1.x NNN" */
			head++;
			crlf = (buf[i] == '\r' || buf[i] == '\n') ? crlf + 1 : 0;
			if (crlf == 4) in_body = 1;
		}
	}
	close(s);
	line[ln] = 0;
	if (n < 0) return fail("net fetch", "read failed");
	if (by_path) {
		char msg[200] = "net fetch ";
		unsigned long t = strlen(msg);
		while (*target && *target != ' ' && t < 120) msg[t++] = *target++;
		msg[t] = 0;
		/* "<ip>:<port>:/path" printed as "<ip>:<port>/path" */
		for (char *c = msg + 10; *c; c++) if (c[0] == ':' && c[1] == '/') { memmove(c, c + 1, strlen(c)); break; }
		memcpy(msg + strlen(msg), ": ", 3);
		memcpy(msg + strlen(msg), status, 4);
		memcpy(msg + strlen(msg), ", ", 3);
		char *d = utoa_buf(body, num);
		memcpy(msg + strlen(msg), d, strlen(d) + 1);
		if (memcmp(status, "200", 3)) return fail(msg, "not 200 OK");
		say(msg, " bytes: ", line);
		return;
	}
	if (body != want) return fail("net fetch", "body length differs from the size asked");
	say("net fetch: ", utoa_buf(body, num), 0);
	say("net fetch hash: ", hex_buf(sum, h), 0);
}

static void check_net_serve(const char *spec)
{
	static unsigned char chunk[65536];
	static char req[4096];
	char num[24], h[20];
	unsigned long port = parse_num(&spec);
	if (*spec++ != ':') return fail("net serve", "honk.serve=<port>:<bytes>:<count>");
	unsigned long size = parse_num(&spec);
	if (*spec++ != ':') return fail("net serve", "honk.serve=<port>:<bytes>:<count>");
	unsigned long count = parse_num(&spec);
	unsigned long sum = 0;
	for (unsigned long i = 0; i < size; i++) sum = sum * 31 + pattern_byte(i);
	int s = my_syscall3(__NR_socket, AF_INET, SOCK_STREAM, 0);
	int one = 1;
	my_syscall5(__NR_setsockopt, s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in4 sa = { AF_INET, be16((unsigned short)port), 0, { 0 } };
	if (s < 0 || my_syscall3(__NR_bind, s, &sa, sizeof sa) < 0 || my_syscall2(__NR_listen, s, 16) < 0) return fail("net serve", "cannot listen");
	say("net serve: listening, hash ", hex_buf(sum, h), 0);
	for (unsigned long served = 0; served < count; served++) {
		int c = my_syscall3(__NR_accept, s, 0, 0);
		if (c < 0) return fail("net serve", "accept failed");
		long got = 0, n;
		while (got < (long)sizeof req - 1 && (n = read(c, req + got, sizeof req - 1 - got)) > 0) {
			got += n;
			req[got] = 0;
			if (contains(req, "\r\n\r\n")) break;
		}
		char head[96] = "HTTP/1.0 200 OK\r\nContent-Length: ";
		utoa_buf(size, head + strlen(head));
		memcpy(head + strlen(head), "\r\n\r\n", 5);
		int ok = write_all(c, head, strlen(head)) == 0;
		for (unsigned long off = 0; ok && off < size; off += sizeof chunk) {
			unsigned long len = size - off < sizeof chunk ? size - off : sizeof chunk;
			for (unsigned long i = 0; i < len; i++) chunk[i] = pattern_byte(off + i);
			ok = write_all(c, chunk, len) == 0;
		}
		/* Linux's close() returns with data still queued, and the init powers off right after the
		   last request: half-close, then wait for the client to close (it has read the whole body). */
		my_syscall2(__NR_shutdown, c, 1 /* SHUT_WR */);
		while (ok && read(c, req, sizeof req) > 0) {}
		close(c);
		if (!ok) return fail("net serve", "send failed");
	}
	close(s);
	say("net serve: served ", utoa_buf(count, num), 0);
}

/*
 * The virtio tablet under Linux: /proc/bus/input/devices names each input device ("N: Name=")
 * and its handlers ("H: Handlers=... eventN"); the tablet's evdev node gets struct input_event
 * (timeval, u16 type, u16 code, s32 value: 24 bytes on rv64) for what the host sends.
 */
static void check_tablet(void)
{
	static char devs[8192];
	char num[24], num2[24];
	if (slurp("/proc/bus/input/devices", devs, sizeof devs) <= 0) return fail("display", "no /proc/bus/input/devices");
	long event = -1, in_tablet = 0;
	for (char *line = devs; *line;) {
		char *end = line;
		while (*end && *end != '\n') end++;
		char saved = *end;
		*end = 0;
		if (!strncmp(line, "N: Name=", 8)) {
			say("display: input device: ", line + 8, 0);
			in_tablet = contains(line, "ablet");
		}
		if (in_tablet && event < 0 && !strncmp(line, "H: Handlers=", 12)) {
			for (char *p = line; *p; p++)
				if (!strncmp(p, "event", 5) && p[5] >= '0' && p[5] <= '9') {
					const char *q = p + 5;
					event = (long)parse_num(&q);
					break;
				}
		}
		*end = saved;
		line = saved ? end + 1 : end;
	}
	if (event < 0) return fail("display", "no tablet with an event handler in /proc/bus/input/devices");
	char path[32] = "/dev/input/event";
	utoa_buf((unsigned long)event, path + strlen(path));
	int fd = open(path, O_RDONLY, 0);
	if (fd < 0) return fail("display", "cannot open the tablet's /dev/input/eventN");
	say("display: tablet on ", path, ", waiting for a click");
	struct { long sec, usec; unsigned short type, code; int value; } ev;
	long x = -1, y = -1;
	for (;;) {
		if (read(fd, &ev, sizeof ev) != (long)sizeof ev) {
			close(fd);
			return fail("display", "read from the tablet");
		}
		if (ev.type == 3 /* EV_ABS */ && ev.code == 0 /* ABS_X */) x = ev.value;
		if (ev.type == 3 && ev.code == 1 /* ABS_Y */) y = ev.value;
		if (ev.type == 1 /* EV_KEY */ && ev.code == 0x110 /* BTN_LEFT */ && ev.value == 1) break;
	}
	close(fd);
	char at[64] = "x=";
	utoa_buf((unsigned long)x, num);
	utoa_buf((unsigned long)y, num2);
	memcpy(at + 2, num, strlen(num) + 1);
	memcpy(at + strlen(at), " y=", 4);
	memcpy(at + strlen(at), num2, strlen(num2) + 1);
	say("display: tablet: left button down at ", at, 0);
}

/* honk.shell=1: /bin/sh (BusyBox's ash, in the initramfs) on tty1 in a new session whose
 * controlling terminal is tty1 (setsid, then TIOCSCTTY), so that the keys typed on the virtio
 * keyboard reach it and job control works; init waits for it to exit. */
#ifndef O_CLOEXEC
#define O_CLOEXEC 02000000 /* asm-generic/fcntl.h, which riscv uses */
#endif
static void run_shell(int tty)
{
	char num[24];
	static char *const argv[] = { "sh", 0 };
	static char *const envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux", 0 };
	static const char hello[] = "honk-init: a shell on tty1 (BusyBox ash); `exit` ends it\n";
	write_all(tty, hello, sizeof hello - 1);
	/* A close-on-exec pipe: the child writes a byte to it only if it could not run the shell. */
	int p[2];
	if (my_syscall2(__NR_pipe2, p, O_CLOEXEC) < 0) return fail("display", "pipe for the shell");
	pid_t pid = fork();
	if (pid < 0) return fail("display", "fork for the shell");
	if (pid == 0) {
		int fd = -1;
		close(p[0]);
		if (setsid() >= 0) fd = open("/dev/tty1", O_RDWR, 0);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) {
			write(p[1], "t", 1);
			exit(127);
		}
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2) close(fd);
		close(tty);
		execve("/bin/sh", argv, envp);
		write(p[1], "x", 1);
		exit(127);
	}
	close(p[1]);
	char why = 0;
	long n = read(p[0], &why, 1);
	close(p[0]);
	int status = 0;
	if (n == 1) {
		waitpid(pid, &status, 0);
		return fail("display", why == 't' ? "cannot make tty1 the shell's controlling terminal" : "cannot run /bin/sh");
	}
	say("display: shell on tty1, pid ", utoa_buf((unsigned long)pid, num), 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status)) return fail("display", "the shell was killed by a signal");
	say("display: shell exited with status ", utoa_buf((unsigned long)WEXITSTATUS(status), num), 0);
}

static void check_display(const char *cmdline)
{
	static char line[256];
	char num[24];
	int fb = open("/dev/fb0", O_RDONLY, 0);
	if (fb < 0) return fail("display", "no /dev/fb0 (virtio-gpu with DRM fbdev emulation)");
	close(fb);
	say("display: /dev/fb0 ok", 0, 0);
	/* O_NOCTTY: init reads tty1 without making it its controlling terminal. */
	int tty = open("/dev/tty1", O_RDWR | O_NOCTTY, 0);
	if (tty < 0) return fail("display", "cannot open /dev/tty1");
	for (unsigned long i = 1; i <= 8; i++) {
		static const char text[] = "honk-init display check: a line on tty1, drawn by fbcon, number ";
		if (write_all(tty, text, sizeof text - 1) < 0 || write_all(tty, utoa_buf(i, num), strlen(num)) < 0 || write_all(tty, "\n", 1) < 0) {
			close(tty);
			return fail("display", "write to /dev/tty1");
		}
	}
	say("display: wrote 8 lines to tty1", 0, 0);
	if (contains(cmdline, "honk.tablet=1")) check_tablet();
	if (contains(cmdline, "honk.type=1")) {
		static const char prompt[] = "type a line: ";
		write_all(tty, prompt, sizeof prompt - 1);
		say("display: waiting for a line on tty1", 0, 0);
		/* Canonical mode (the tty's default): read() returns one whole line, echoed on the VT as typed. */
		long n = read(tty, line, sizeof line - 1);
		if (n <= 0) {
			close(tty);
			return fail("display", "read from /dev/tty1");
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
		line[n] = 0;
		say("display: read: ", line, 0);
		static const char got[] = "honk-init read: ";
		write_all(tty, got, sizeof got - 1);
		write_all(tty, line, n);
		write_all(tty, "\n", 1);
	}
	if (contains(cmdline, "honk.shell=1")) run_shell(tty);
	const char *scroll = param(cmdline, "honk.scroll=");
	if (scroll) {
		unsigned long lines = parse_num(&scroll);
		long t0 = now_ns();
		for (unsigned long i = 1; i <= lines; i++) {
			static const char text[] = "honk-init scroll: fbcon scrolls the whole console for each new line, line ";
			if (write_all(tty, text, sizeof text - 1) < 0 || write_all(tty, utoa_buf(i, num), strlen(num)) < 0 || write_all(tty, "\n", 1) < 0) {
				close(tty);
				return fail("display", "scroll write to /dev/tty1");
			}
		}
		char ms[24];
		say("display: scrolled ", utoa_buf(lines, num), " lines");
		say("display: scroll took (ms) ", utoa_buf((unsigned long)(now_ns() - t0) / 1000000, ms), 0);
		/* With honk.type=1, one more line read: the machine stays up until the host has the last frame. */
		if (contains(cmdline, "honk.type=1")) {
			say("display: waiting for a line after the scroll", 0, 0);
			read(tty, line, sizeof line - 1);
		}
	}
	close(tty);
}

/* ---- nvme (issue #19): the host's sector-1 pattern on /dev/nvme0n1, then 8 MiB written at 4 MiB
 * and read back with a checksum, O_DIRECT so that every byte goes through the controller ---- */
#ifndef O_DIRECT
#define O_DIRECT 00040000 /* asm-generic/fcntl.h, which riscv uses */
#endif
static unsigned char dio[65536] __attribute__((aligned(4096)));

static void check_nvme(void)
{
	char h[20];
	int fd = open("/dev/nvme0n1", O_RDWR | O_DIRECT, 0);
	if (fd < 0) return fail("nvme", "cannot open /dev/nvme0n1");
	if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, dio, 4096) != 4096) { close(fd); return fail("nvme", "cannot read sector 1"); }
	unsigned long sum = 0;
	for (int i = 0; i < 512; i++) sum = sum * 31 + dio[512 + i];
	if (memcmp(dio + 512, "HONK-SECTOR-1", 13)) { close(fd); return fail("nvme", "sector 1 does not hold the host's pattern"); }
	say("nvme: sector 1 ok, hash ", hex_buf(sum, h), 0);
	const unsigned long base = 4ul << 20, size = 8ul << 20;
	sum = 0;
	if (lseek(fd, base, SEEK_SET) != (long)base) { close(fd); return fail("nvme", "seek"); }
	for (unsigned long off = 0; off < size; off += sizeof dio) {
		for (unsigned long i = 0; i < sizeof dio; i++) dio[i] = pattern_byte(off + i + 7);
		if (write(fd, dio, sizeof dio) != (long)sizeof dio) { close(fd); return fail("nvme", "write"); }
		for (unsigned long i = 0; i < sizeof dio; i++) sum = sum * 31 + dio[i];
	}
	if (my_syscall1(__NR_fsync, fd) < 0) { close(fd); return fail("nvme", "fsync"); }
	unsigned long back = 0;
	if (lseek(fd, base, SEEK_SET) != (long)base) { close(fd); return fail("nvme", "seek"); }
	for (unsigned long off = 0; off < size; off += sizeof dio) {
		if (read(fd, dio, sizeof dio) != (long)sizeof dio) { close(fd); return fail("nvme", "read back"); }
		for (unsigned long i = 0; i < sizeof dio; i++) back = back * 31 + dio[i];
	}
	close(fd);
	if (back != sum) return fail("nvme", "8 MiB read back differs");
	say("nvme: 8 MiB written and read back, checksum ", hex_buf(sum, h), 0);
}

/* ---- diskbench (issue #19's benchmark): 4 KiB O_DIRECT requests, 2048 of each kind, in the
 * 8 MiB at 4 MiB of each disk there is: sequential write, sequential read, random write,
 * random read. One line per kind with the guest's monotonic time (use a real-time clock). ---- */
static void bench_disk(const char *dev, const char *name)
{
	char a[24], b[24];
	int fd = open(dev, O_RDWR | O_DIRECT, 0);
	if (fd < 0) return;
	static const char *kinds[4] = { "seq-write", "seq-read", "rand-write", "rand-read" };
	for (int k = 0; k < 4; k++) {
		unsigned long x = 12345;
		for (unsigned long i = 0; i < 4096; i++) dio[i] = (unsigned char)(i + k);
		long t0 = now_ns();
		for (unsigned long i = 0; i < 2048; i++) {
			unsigned long block = i;
			if (k >= 2) { x = x * 6364136223846793005ul + 1442695040888963407ul; block = (x >> 33) % 2048; }
			long off = (long)((4ul << 20) + block * 4096);
			if (lseek(fd, off, SEEK_SET) != off) { close(fd); return fail("diskbench", "seek"); }
			long r = (k & 1) ? read(fd, dio, 4096) : write(fd, dio, 4096);
			if (r != 4096) { close(fd); return fail("diskbench", kinds[k]); }
		}
		if (!(k & 1)) my_syscall1(__NR_fsync, fd);
		long us = (now_ns() - t0) / 1000;
		if (us < 1) us = 1;
		char line[96] = "diskbench: ";
		const char *parts[4] = { name, " ", kinds[k], " 4K: " };
		for (int p = 0; p < 4; p++) strcpy(line + strlen(line), parts[p]);
		(void)b;
		say(line, utoa_buf(2048ul * 1000000ul / (unsigned long)us, a), " IOPS");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	static char cmdline[1024];
	say("hello from init", 0, 0);
	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	mkdir("/sys", 0755);
	if (mount("proc", "/proc", "proc", 0, 0) < 0) fail("mount", "/proc");
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, 0) < 0) fail("mount", "/dev");
	if (mount("sysfs", "/sys", "sysfs", 0, 0) < 0) fail("mount", "/sys");
	if (slurp("/proc/cmdline", cmdline, sizeof cmdline) < 0) cmdline[0] = 0;
	int nine = contains(cmdline, "honk.checks=") && contains(cmdline, "9p");
	int basic = !contains(cmdline, "honk.checks=") || contains(cmdline, "basic");
	if (basic) {
		unsigned long harts = check_harts();
		check_vda();
		check_hwrng();
		check_eth0();
		check_timers(harts);
	}
	if (nine) {
		const char *files = param(cmdline, "honk.9p.files="), *mib = param(cmdline, "honk.9p.mib=");
		check_9p(files ? parse_num(&files) : 1000, mib ? parse_num(&mib) : 16);
	}
	if (contains(cmdline, "honk.checks=") && contains(cmdline, "nvme")) check_nvme();
	if (contains(cmdline, "honk.checks=") && contains(cmdline, "diskbench")) {
		bench_disk("/dev/nvme0n1", "nvme0n1");
		bench_disk("/dev/vda", "vda");
	}
	if (contains(cmdline, "honk.checks=") && contains(cmdline, "net")) {
		const char *serve = param(cmdline, "honk.serve=");
		check_net_address();
		for (const char *f = param(cmdline, "honk.fetch="); f; f = param(f, "honk.fetch=")) check_net_fetch(f);
		if (serve) check_net_serve(serve);
	}
	if (contains(cmdline, "honk.checks=") && contains(cmdline, "display")) check_display(cmdline);
	say(failures ? "FAILED" : "all checks passed", 0, 0);
	my_syscall0(__NR_sync);
	if (contains(cmdline, "honk.reboot=1")) {
		say("rebooting", 0, 0);
		reboot(LINUX_REBOOT_CMD_RESTART);
	}
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;) my_syscall4(__NR_ppoll, 0, 0, 0, 0);
	return 0;
}
