#include <stdio.h>
int main(void) { fputs("anpid: not built yet\n", stderr); return 1; }
