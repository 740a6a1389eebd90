/* hello.wasm: the first WebAssembly process of honk. */
#include <stdio.h>
int main(void) {
  printf("Hello from WebAssembly (WASI preview1)!\n");
  return 0;
}
