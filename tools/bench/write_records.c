/* The baseline for `loadgen simulate` (BENCHMARKS.md, "Simulator (issue 13)"): writes COUNT
 * records of 13 bytes each through a 256 KiB stdio buffer, the same buffer size simulate
 * uses, so the time is what writing that many bytes of small records costs on this machine.
 * Each record differs (a counter in it), so nothing can be folded away.
 *
 *   cc -O2 -o /tmp/write_records tools/bench/write_records.c
 *   /tmp/write_records 1378021 out.bin
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s COUNT OUTPUT\n", argv[0]);
        return 2;
    }
    char *end;
    unsigned long long count = strtoull(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0') {
        fprintf(stderr, "COUNT must be a number, got `%s`\n", argv[1]);
        return 2;
    }
    FILE *out = fopen(argv[2], "wb");
    if (out == NULL) {
        perror(argv[2]);
        return 1;
    }
    static char buffer[256 * 1024];
    setvbuf(out, buffer, _IOFBF, sizeof buffer);
    unsigned char record[13] = {12, 0, 2};
    for (unsigned long long i = 0; i < count; i++) {
        uint64_t v = i * 0x9E3779B97F4A7C15ull;
        memcpy(record + 3, &v, 8);
        record[11] = (unsigned char)i;
        record[12] = (unsigned char)(i >> 8);
        if (fwrite(record, sizeof record, 1, out) != 1) {
            perror(argv[2]);
            return 1;
        }
    }
    if (fclose(out) != 0) {
        perror(argv[2]);
        return 1;
    }
    return 0;
}
