/*
 * clockshift: moves the wall clock of a process (and of every child that inherits LD_PRELOAD) by
 * CLOCKSHIFT_SECONDS seconds, and leaves every other clock alone.
 *
 * Why not Debian's faketime: libfaketime 0.9.10 breaks Python 3.11's time.sleep, which sleeps with
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): with the monotonic clock excluded it passes the
 * kernel a negative deadline (EINVAL, libfaketime issue #426), and with it faked, thread waits whose
 * deadlines glibc hands to the kernel directly wait for a year. Only the wall clock is what the
 * tests mean to move: the monotonic clock, sleeps and file times stay as the kernel says.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long shift_s(void) {
    static int known = 0;
    static long long shift = 0;
    if (!known) {
        const char *text = getenv("CLOCKSHIFT_SECONDS");
        shift = text ? strtoll(text, NULL, 10) : 0;
        known = 1;
    }
    return shift;
}

static int is_wall(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *) = NULL;
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc == 0 && ts && is_wall(id)) ts->tv_sec += shift_s();
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    static int (*real)(struct timeval *, void *) = NULL;
    if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int rc = real(tv, tz);
    if (rc == 0 && tv) tv->tv_sec += shift_s();
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
    static int (*real)(clockid_t, int, const struct timespec *, struct timespec *) = NULL;
    if (!real) real = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(RTLD_NEXT, "clock_nanosleep");
    if ((flags & TIMER_ABSTIME) && req && is_wall(id)) {
        struct timespec moved = *req;
        moved.tv_sec -= shift_s();
        return real(id, flags, &moved, rem);
    }
    return real(id, flags, req, rem);
}
