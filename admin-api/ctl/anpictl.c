#include <stdio.h>
int main(void) { fputs("anpictl: not built yet\n", stderr); return 1; }
