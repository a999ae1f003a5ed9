/* tool: prints its version. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0)
        printf("tool 1.0 (built with cmake)\n");
    return 0;
}
