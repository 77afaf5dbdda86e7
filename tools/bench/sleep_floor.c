/* The floor under paced CPU (BENCHMARKS.md, "What a sleep costs this machine"): a process that
 * does nothing but sleep to absolute deadlines, RATE times a second for SECONDS, and prints the
 * CPU it was charged per wake-up (user + system, from getrusage) and its voluntary context
 * switches, and how late it woke (p50, p99, max, from CLOCK_MONOTONIC after each sleep). A paced load generator cannot spend less than this per due time on the machine it
 * runs on; `--speed max` never sleeps, so this is what pacing adds to each request that waits.
 *
 * The deadlines are multiples of 1/RATE from the next whole second of CLOCK_MONOTONIC, so
 * copies started within the same second wake at the same instants, as the shards of one
 * trace do (`--start-at`): the cost of a wake-up when several processes wake together.
 *
 *   cc -O2 -o /tmp/sleep_floor tools/bench/sleep_floor.c
 *   /tmp/sleep_floor 2000 30
 *   for i in 1 2 3 4; do /tmp/sleep_floor 500 30 & done; wait
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s RATE SECONDS\n", argv[0]);
        return 2;
    }
    long rate = strtol(argv[1], NULL, 10);
    long seconds = strtol(argv[2], NULL, 10);
    if (rate <= 0 || seconds <= 0) {
        fprintf(stderr, "RATE and SECONDS must be positive integers\n");
        return 2;
    }
    long wakes = rate * seconds;
    long step_ns = 1000000000L / rate;
    struct timespec start, due;
    clock_gettime(CLOCK_MONOTONIC, &start);
    start.tv_sec += 1;
    start.tv_nsec = 0;
    long long *lateness = malloc(sizeof(long long) * wakes);
    if (lateness == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (long i = 1; i <= wakes; i++) {
        long long ns = (long long)start.tv_nsec + (long long)i * step_ns;
        due.tv_sec = start.tv_sec + ns / 1000000000LL;
        due.tv_nsec = ns % 1000000000LL;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long late = (now.tv_sec - due.tv_sec) * 1000000000LL + (now.tv_nsec - due.tv_nsec);
        lateness[i - 1] = late;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double user = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6;
    double sys = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    qsort(lateness, wakes, sizeof(long long), by_value);
    printf("wakes %ld  user %.3f s  sys %.3f s  cpu per wake %.1f us  voluntary switches %ld  "
           "lateness p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
           wakes, user, sys, (user + sys) * 1e6 / wakes, usage.ru_nvcsw, lateness[wakes / 2] / 1e6,
           lateness[wakes * 99 / 100] / 1e6, lateness[wakes - 1] / 1e6);
    free(lateness);
    return 0;
}
