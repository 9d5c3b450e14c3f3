# SPDX-License-Identifier: Apache-2.0
# One line per fuzz target: ds_fuzz_target(<name> <libraries>).
ds_fuzz_target(http1 ds_rpc)
ds_fuzz_target(pbjson ds_rpc ds_testproto)
ds_fuzz_target(pbdecode ds_rpc ds_testproto)
