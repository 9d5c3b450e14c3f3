# SPDX-License-Identifier: Apache-2.0
# One line per fuzz target: ds_fuzz_target(<name> <libraries>).
ds_fuzz_target(http1 ds_rpc)
ds_fuzz_target(pbjson ds_rpc ds_testproto)
ds_fuzz_target(pbdecode ds_rpc ds_testproto)
ds_fuzz_target(json ds_base)
ds_fuzz_target(snp_report ds_attest)
ds_fuzz_target(eventlog ds_attest)
ds_fuzz_target(ccel ds_attest)
ds_fuzz_target(dcap_quote ds_attest)
ds_fuzz_target(tcbinfo ds_attest)
ds_fuzz_target(qeid ds_attest)
ds_fuzz_target(pck_ext ds_attest)
