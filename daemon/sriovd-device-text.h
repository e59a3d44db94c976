/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A device of the model written straight as JSON text: the same bytes that
 * json_object_to_json_string_ext(sriov_device_to_json(), PLAIN | NOSLASHESCAPE) gives,
 * without building a json-c tree (test-device-text compares the two for every kind of
 * function). GET /v1/devices at 16k functions is written this way: ~1 us per function
 * instead of ~10, and no tree of 16k objects held while the reply is made. */

#include "sriov-device.h"
#include "sriov-model.h"
#include "sriovd-textbuf.h"

void sriovd_device_text(struct sriovd_textbuf *b, const struct sriov_model *m, const struct sriov_device *d);

/* What the daemon adds to a device, as text: sriov_tail writes members at the end of a
 * PF's "sriov" object, tail members at the end of the device object (each starting with
 * a comma). Either may be NULL. */
struct sriovd_device_text_extras {
        void (*sriov_tail)(struct sriovd_textbuf *b, const struct sriov_device *d, void *userdata);
        void (*tail)(struct sriovd_textbuf *b, const struct sriov_device *d, void *userdata);
        void *userdata;
};
void sriovd_device_text_full(struct sriovd_textbuf *b, const struct sriov_model *m, const struct sriov_device *d,
                             const struct sriovd_device_text_extras *extras);
