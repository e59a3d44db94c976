/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON request bodies, through the same checks the API runs: the strict body parser, then
 * every handler's validation (enable/disable, bind, unbind, policy, recover). Whatever a
 * validator accepts must be within the bounds the rest of the daemon relies on. */
#include "fuzz-util.h"
#include "sriov-bind.h"
#include "sriov-enable.h"
#include "sriov-json.h"
#include "sriovd-api-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_json_ json_object *body = NULL;
        struct sriov_enable_request request;
        const char *err = NULL, *driver = NULL, *bad_key = NULL;
        SriovRecoveryPolicy policy;
        unsigned attempts;
        bool force;
        int park;

        if (size > SRIOVD_API_MAX_BODY + 1)
                return 0;
        body = sriovd_api_json_body_parse((const char *) data, size, &err);
        if (!body) {
                fuzz_assert(err);
                return 0;
        }
        fuzz_assert(size > 0 && size <= SRIOVD_API_MAX_BODY && !memchr(data, '\0', size));

        err = NULL;
        if (sriov_enable_request_from_json(body, &request, &err) >= 0) {
                fuzz_assert(request.num_vfs <= 65535);
                fuzz_assert(request.timeout_ms == 0 ||
                            (request.timeout_ms >= SRIOV_TIMEOUT_MS_MIN && request.timeout_ms <= SRIOV_TIMEOUT_MS_MAX));
                fuzz_assert(request.drivers_autoprobe >= -1 && request.drivers_autoprobe <= 1);
                /* what only the daemon itself may ask for */
                fuzz_assert(!request.from_config && !request.startup);
                fuzz_assert(sriov_policy_to_string(request.policy));
        } else
                fuzz_assert(err);

        if (sriovd_api_bind_body_parse(body, false, &driver, &force, &bad_key) >= 0)
                fuzz_assert(driver && sriov_driver_name_valid(driver));
        else if (bad_key)
                fuzz_assert(json_object_object_get_ex(body, bad_key, NULL));
        if (sriovd_api_bind_body_parse(body, true, &driver, &force, &bad_key) >= 0)
                fuzz_assert(!driver && !force);

        if (sriovd_api_policy_body_parse(body, &policy, &attempts, &park, &bad_key) >= 0) {
                fuzz_assert(policy == _SRIOV_RECOVERY_POLICY_INVALID || sriov_recovery_policy_to_string(policy));
                fuzz_assert(attempts <= SRIOV_PF_RECOVERY_ATTEMPTS_MAX);
                fuzz_assert(park >= -1 && park <= 1);
        }
        if (sriovd_api_recover_body_parse(body) >= 0)
                fuzz_assert(json_object_is_type(body, json_type_object) && json_object_object_length(body) == 0);
        return 0;
}
