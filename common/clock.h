/* Time for durations and deadlines: a monotonic clock, which no settime or
 * NTP step can move. Wall-clock instants come from proto_now_ms(). */
#ifndef ODC_COMMON_CLOCK_H
#define ODC_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t clock_mono_ms(void);

#endif
