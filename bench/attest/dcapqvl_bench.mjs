// SPDX-License-Identifier: Apache-2.0
// The peer of ds_bench_dcap: @phala/dcap-qvl's `verify(quote, collateral, now)` in a loop on one quote and
// collateral; prints verifications per CPU-second and per wall-second, and per-call latency.
//
// usage: node bench/attest/dcapqvl_bench.mjs --quote F --collateral F --now UNIX [--seconds S] [--warmup S]
//                                             [--expect-status NAME] [--dev-root DER]
// Output: one line
//   js ops=N seconds=S cpu_seconds=C ops_per_cpu_s=X ops_per_s=Y us_per_op_cpu=U median_us=M p99_us=P
// dcap-qvl keeps no state between calls: every call parses and verifies the collateral (TCB info, QE
// identity, their chains), the PCK chain, the QE report and the quote, so it is the peer of both of our
// warm cases and of our cold case. Every result is checked; a failure exits 1.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'tests', 'node', 'package.json'));
const { verify, QuoteVerifier } = require('@phala/dcap-qvl');

const { values: opt } = parseArgs({
	options: {
		quote: { type: 'string' },
		collateral: { type: 'string' },
		now: { type: 'string' },
		seconds: { type: 'string', default: '3' },
		warmup: { type: 'string', default: '1' },
		'expect-status': { type: 'string', default: 'UpToDate' },
		'dev-root': { type: 'string' },
	},
});
if (!opt.quote || !opt.collateral || !opt.now) {
	console.error('usage: dcapqvl_bench.mjs --quote F --collateral F --now UNIX [--seconds S] [--warmup S] [--expect-status NAME] [--dev-root DER]');
	process.exit(2);
}

function readQuote(path) {
	const raw = readFileSync(path);
	if (!path.endsWith('.hex'))
		return new Uint8Array(raw);
	return new Uint8Array(Buffer.from(raw.toString('latin1').replace(/\s+/g, '').replace(/^0x/i, ''), 'hex'));
}

const quote = readQuote(opt.quote);
const collateral = JSON.parse(readFileSync(opt.collateral, 'utf8'));
const now = Number(opt.now);
const verifier = opt['dev-root'] ? QuoteVerifier.newWithRootCa(readFileSync(opt['dev-root'])) : null;
const want = opt['expect-status'];

function once() {
	const r = verifier ? verifier.verify(quote, collateral, now) : verify(quote, collateral, now);
	if (r.status !== want) {
		console.error(`dcapqvl_bench: status ${r.status}, expected ${want}`);
		process.exit(1);
	}
}

// Warm-up: let V8 optimise the hot functions before measuring.
const warmEnd = process.hrtime.bigint() + BigInt(Math.round(Number(opt.warmup) * 1e9));
while (process.hrtime.bigint() < warmEnd)
	once();

const lat = [];
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const deadline = t0 + BigInt(Math.round(Number(opt.seconds) * 1e9));
let t = t0;
do {
	const s = t;
	once();
	t = process.hrtime.bigint();
	lat.push(Number(t - s) / 1e3);
} while (t < deadline);
const cpu = process.cpuUsage(cpu0);
const secs = Number(t - t0) / 1e9;
const cpuSecs = (cpu.user + cpu.system) / 1e6;
lat.sort((a, b) => a - b);
const n = lat.length;
const pct = (p) => lat[Math.min(n - 1, Math.ceil(n * p) - 1)];
console.log(`js ops=${n} seconds=${secs.toFixed(3)} cpu_seconds=${cpuSecs.toFixed(3)} ` +
	`ops_per_cpu_s=${(n / cpuSecs).toFixed(1)} ops_per_s=${(n / secs).toFixed(1)} ` +
	`us_per_op_cpu=${(cpuSecs * 1e6 / n).toFixed(3)} median_us=${pct(0.5).toFixed(1)} p99_us=${pct(0.99).toFixed(1)}`);
