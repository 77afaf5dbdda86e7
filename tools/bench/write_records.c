/* The baseline for `loadgen simulate` (BENCHMARKS.md, "Simulator (issue 13)"): writes COUNT
 * records of 13 bytes each through a 256 KiB stdio buffer, the same buffer size simulate
 * uses, so the time is what writing that many bytes of small records costs on this machine.
 * Each record differs (a counter in it), so nothing can be folded away.
 *
 * With --atomic it also does the output work `simulate -o FILE` does to never leave a
 * half-written file: it writes OUTPUT.partial, flushes it to disk (fsync) and renames it over
 * OUTPUT.
 *
 *   cc -O2 -o /tmp/write_records tools/bench/write_records.c
 *   /tmp/write_records 1378021 out.bin
 *   /tmp/write_records --atomic 1378021 out.bin
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int atomic = argc == 4 && strcmp(argv[1], "--atomic") == 0;
    if (argc != 3 + atomic) {
        fprintf(stderr, "usage: %s [--atomic] COUNT OUTPUT\n", argv[0]);
        return 2;
    }
    const char *count_arg = argv[1 + atomic];
    const char *target = argv[2 + atomic];
    char *end;
    unsigned long long count = strtoull(count_arg, &end, 10);
    if (*count_arg == '\0' || *end != '\0') {
        fprintf(stderr, "COUNT must be a number, got `%s`\n", count_arg);
        return 2;
    }
    static char partial[4096];
    if (snprintf(partial, sizeof partial, "%s.partial", target) >= (int)sizeof partial) {
        fprintf(stderr, "OUTPUT too long\n");
        return 2;
    }
    const char *path = atomic ? partial : target;
    FILE *out = fopen(path, "wb");
    if (out == NULL) {
        perror(path);
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
            perror(path);
            return 1;
        }
    }
    if (atomic && (fflush(out) != 0 || fsync(fileno(out)) != 0)) {
        perror(path);
        return 1;
    }
    if (fclose(out) != 0) {
        perror(path);
        return 1;
    }
    if (atomic && rename(partial, target) != 0) {
        perror(target);
        return 1;
    }
    return 0;
}
