// SPDX-License-Identifier: Apache-2.0
// Known answers for test_abi.c / test_tx.c, computed with ethers (run from tests/node: node --input-type=module < ../unit/eth/gen_vectors.mjs).
import { AbiCoder, Interface, id, keccak256, Transaction, Wallet, getCreateAddress, getAddress, toUtf8Bytes } from "ethers";

const c = AbiCoder.defaultAbiCoder();
const out = (name, v) => console.log(`${name} = ${v}`);

out("spec_f", c.encode(["uint256", "uint32[]", "bytes10", "bytes"],
  [0x123, [0x456, 0x789], toUtf8Bytes("1234567890"), toUtf8Bytes("Hello, world!")]));
out("spec_f_selector", id("f(uint256,uint32[],bytes10,bytes)").slice(0, 10));

const abi = new Interface([
  "function isAppAllowed((address appId, bytes32 composeHash, address instanceId, bytes32 deviceId, bytes32 mrAggregated, bytes32 mrSystem, bytes32 osImageHash, string tcbStatus, string[] advisoryIds) b) view returns (bool, string)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event ComposeHashAdded(bytes32 composeHash)",
  "event Named(string indexed name, uint64 indexed n, bytes data, string note)",
]);
const h = (b) => "0x" + b.toString(16).padStart(2, "0").repeat(32);
const boot = ["0x" + "11".repeat(20), h(0x22), "0x" + "33".repeat(20), h(0x44), h(0x55), h(0x66), h(0x77),
  "UpToDate", ["INTEL-SA-00001", "INTEL-SA-00002"]];
out("is_app_allowed_call", abi.encodeFunctionData("isAppAllowed", [boot]));
out("is_app_allowed_selector", abi.getFunction("isAppAllowed").selector);
out("is_allowed_ret", c.encode(["bool", "string"], [false, "Compose hash not allowed"]));
out("nested", c.encode(["uint8", "int16", "bytes4", "address", "bool", "string[]", "bytes[2]", "(uint256,string)[]", "int64", "uint256[2]"],
  [255, -2, "0xdeadbeef", "0x" + "ab".repeat(20), true, ["", "a", "x".repeat(33)], ["0x", "0x0102"],
   [[1, "one"], [2, ""]], -1, [7, 8]]));
out("empty_strarr", c.encode(["string[]"], [[]]));
out("transfer_topic", abi.getEvent("Transfer").topicHash);
out("compose_topic", abi.getEvent("ComposeHashAdded").topicHash);
const named = abi.encodeEventLog("Named", ["alice", 42, "0xcafe", "hello"]);
out("named_topics", named.topics.join(","));
out("named_data", named.data);

// Transactions.
const key = "0x" + "46".repeat(32);
const w = new Wallet(key);
out("addr_4646", w.address);
const legacy = Transaction.from({ type: 0, chainId: 1, nonce: 9, gasPrice: 20000000000n, gasLimit: 21000,
  to: "0x" + "35".repeat(20), value: 1000000000000000000n, data: "0x" });
out("legacy_unsigned_hash", legacy.unsignedHash);
const legacySigned = await w.signTransaction(legacy);
out("legacy_signed", legacySigned);
const t2 = Transaction.from({ type: 2, chainId: 31337, nonce: 5, maxPriorityFeePerGas: 1000000000n,
  maxFeePerGas: 30000000000n, gasLimit: 100000, to: "0x" + "35".repeat(20), value: 12345n, data: "0x01020304" });
out("eip1559_signed", await w.signTransaction(t2));
out("eip1559_hash", Transaction.from(await w.signTransaction(t2)).hash);
const create = Transaction.from({ type: 0, chainId: 31337, nonce: 0, gasPrice: 1n, gasLimit: 100000, to: null,
  value: 0n, data: "0x6000" });
out("create_signed", await w.signTransaction(create));
out("create_addr_n0", getCreateAddress({ from: w.address, nonce: 0 }));
out("create_addr_n300", getCreateAddress({ from: w.address, nonce: 300 }));
const anvil0 = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
out("anvil0_addr", anvil0.address);
out("checksum_lower", getAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
