/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL

/* The time of 'clock' in µs. */
uint64_t now_usec(clockid_t clock);
