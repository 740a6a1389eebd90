/* loop.wasm: spins forever without a system call; only kill stops it. */
int main(void) {
  volatile unsigned long n = 0;
  for (;;) n++;
}
