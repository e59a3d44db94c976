/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fuzz target: one function of the bytes it is given (libFuzzer's contract). Built
 * with -Dfuzz=true it links libFuzzer; otherwise fuzz-main.c replays files through it,
 * which is how the unit tier runs every corpus (tests/fuzz/fuzz-<target>/). */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this are not looked at: no parser here reads more than a page or two, and
 * libFuzzer then spends its time on the bytes that matter (the same -max_len is given in
 * tests/fuzz/README.md). */
#define FUZZ_INPUT_MAX (64u * 1024u)
