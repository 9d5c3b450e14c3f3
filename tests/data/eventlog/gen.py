#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate the event-log test vectors from the two real fixtures, by a route independent of lib/attest.

Inputs (real, copied byte-for-byte, see README.md):
  tdx-lite-getquote.json  dstack HEAD GetQuote response (RTMR3 events without digests)
  tappd-v1-report.json    dstack 0.3/0.4 Tappd.TdxQuote response (RTMR3 events with V1 digests)
Outputs (all derived here with hashlib/json only):
  v2-eventlog.json        synthetic V2/V1 mixed log (preimages, escaped names, events after system-ready)
  ccel-tappd.bin          CCEL (TCG crypto-agile) built from tappd-v1-report.json's RTMR0-2 events, SHA-384 only
  ccel-tappd-2alg.bin     the same with a SHA-256 digest before the SHA-384 one in every record
  expected.json           every expected value the C tests assert (they paste these as constants)
Run: python3 gen.py   (deterministic; rerun and `git diff` must be empty)
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RT = 0x08000001


def sha384(b):
    return hashlib.sha384(b).digest()


def sha256(b):
    return hashlib.sha256(b).digest()


def v1_digest(name, payload):
    return sha384(struct.pack('<I', RT) + b':' + name.encode() + b':' + payload)


def v2_preimage(name, payload):
    # JCS for this object equals Python's compact, sorted, non-ASCII-verbatim dump:
    # Python escapes " \\ \b \f \n \r \t and other controls as \u00xx (lowercase), like RFC 8785.
    return json.dumps({'name': name, 'payload': payload.hex(), 'type': RT},
                      separators=(',', ':'), sort_keys=True, ensure_ascii=False).encode()


def extend(mr, d):
    return sha384(mr + d)


def td_report(quote_hex):
    q = bytes.fromhex(quote_hex)
    b = q[48:48 + 584]
    return {
        'mrtd': b[136:184], 'mrconfigid': b[184:232], 'mrowner': b[232:280], 'mrownerconfig': b[280:328],
        'rtmr': [b[328 + 48 * i:376 + 48 * i] for i in range(4)], 'report_data': b[520:584],
    }


def mr_system(td, kp):
    mkp = sha256(kp) if kp is not None else bytes(32)
    return sha256(td['mrtd'] + td['rtmr'][0] + td['rtmr'][1] + td['rtmr'][2] + mkp)


def mr_aggregated(td, rtmr3):
    b = td['mrtd'] + td['rtmr'][0] + td['rtmr'][1] + td['rtmr'][2] + rtmr3
    tail = td['mrconfigid'] + td['mrowner'] + td['mrownerconfig']
    if any(tail):
        b += tail
    return sha256(b)


def replay(events):
    """events: list of dicts with imr, event_type, event, event_payload (bytes), digest (bytes) extended."""
    r = [bytes(48)] * 4
    boot = bytes(48)
    frozen = False
    ready = False
    for e in events:
        r[e['imr']] = extend(r[e['imr']], e['_d'])
        if e['imr'] == 3 and not frozen:
            boot = extend(boot, e['_d'])
        if e['imr'] == 3 and not ready and e['event'] == 'boot-mr-done':
            frozen = True
        if e['imr'] == 3 and e['event'] == 'system-ready':
            ready = True
    if not frozen:
        boot = r[3]
    return r, boot


def load_real(name):
    d = json.load(open(os.path.join(HERE, name)))
    ev = json.loads(d['event_log'])
    for e in ev:
        p = bytes.fromhex(e['event_payload'])
        if e['imr'] == 3:
            e['_d'] = v1_digest(e['event'], p)
            if e['digest']:
                assert bytes.fromhex(e['digest']) == e['_d']
        else:
            e['_d'] = bytes.fromhex(e['digest'])
    td = td_report(d['quote'])
    r, boot = replay(ev)
    assert r == td['rtmr'], name
    trusted = []
    for e in ev:
        if e['imr'] == 3 and e['event'] == 'system-ready':
            break
        trusted.append(e)
    kp = next((bytes.fromhex(e['event_payload']) for e in trusted if e['event'] == 'key-provider'), None)
    out = {
        'rtmr': [x.hex() for x in r], 'rtmr3_boot': boot.hex(), 'mrtd': td['mrtd'].hex(),
        'n_events': len(ev), 'n_trusted': len(trusted),
        'mr_system': mr_system(td, kp).hex(),
        'mr_aggregated': mr_aggregated(td, r[3]).hex(),
        'mr_aggregated_boot': mr_aggregated(td, boot).hex(),
        'mr_key_provider': (sha256(kp) if kp is not None else bytes(32)).hex(),
    }
    for e in trusted:
        if e['event'] in ('app-id', 'compose-hash', 'instance-id', 'os-image-hash'):
            out[e['event']] = e['event_payload']
    return d, ev, td, out


def ccel(ev, algs):
    """TCG_PCClientPCREvent Spec ID header + TCG_PCR_EVENT2 records; algs: list of (id, size, fn)."""
    spec = b'Spec ID Event03\0' + struct.pack('<IBBBBI', 0, 0, 2, 0, 2, len(algs))
    for alg_id, size, _ in algs:
        spec += struct.pack('<HH', alg_id, size)
    spec += b'\0'
    out = struct.pack('<II', 0, 3) + bytes(20) + struct.pack('<I', len(spec)) + spec
    for e in ev:
        if e['imr'] == 3:
            continue
        p = bytes.fromhex(e['event_payload'])
        rec = struct.pack('<III', e['imr'] + 1, e['event_type'], len(algs))
        for alg_id, _, fn in algs:
            rec += struct.pack('<H', alg_id) + fn(e, p)
        rec += struct.pack('<I', len(p)) + p
        out += rec
    return out + b'\xff' * 64


def v2_log():
    app_id = bytes(range(1, 21))
    compose = sha256(b'{"manifest_version":2,"name":"kat"}')
    inst = bytes(range(0xa0, 0xb4))
    os_hash = sha256(b'sha256sum.txt')
    kp = b'{"name":"kms","id":"3059301306072a8648ce3d020106082a8648ce3d03010703420004"}'
    weird = 'weird "q" \\ \n\t\x01\x1f\x7f é 测试'
    spec = [
        # (imr, type, name, payload, version, give_digest, give_preimage)
        (0, 0x80000001, '', b'boot0', 0, True, False),
        (3, RT, 'system-preparing', b'', 2, False, True),
        (1, 0x80000007, '', b'boot1', 0, True, False),
        (3, RT, 'app-id', app_id, 2, True, True),
        (3, RT, 'compose-hash', compose, 2, False, False),
        (3, RT, 'instance-id', inst, 1, True, False),
        (3, RT, 'boot-mr-done', b'', 2, True, True),
        (2, 6, '', b'boot2', 0, True, False),
        (3, RT, 'os-image-hash', os_hash, 2, False, True),
        (3, RT, 'key-provider', kp, 2, True, True),
        (3, RT, weird, b'\x00\xff\x10', 2, True, True),
        (3, RT, 'system-ready', b'', 2, False, True),
        (3, RT, 'app-id', bytes(20), 2, False, True),   # after system-ready: extends, never trusted
        (3, RT, 'late-v1', b'late', 0, True, False),
    ]
    ev, js = [], []
    for imr, typ, name, payload, ver, gd, gp in spec:
        if imr == 3:
            d = sha384(v2_preimage(name, payload)) if ver == 2 else v1_digest(name, payload)
        else:
            d = sha384(payload)
        e = {'imr': imr, 'event_type': typ, 'event': name, '_d': d}
        ev.append(e)
        j = {'imr': imr, 'event_type': typ, 'digest': d.hex() if gd else '', 'event': name,
             'event_payload': payload.hex()}
        if ver:
            j['version'] = ver
        if gp:
            j['preimage'] = v2_preimage(name, payload).hex()
        js.append(j)
    r, boot = replay(ev)
    return js, ev, r, boot, {'app-id': app_id, 'compose-hash': compose, 'instance-id': inst,
                             'os-image-hash': os_hash, 'key-provider': kp}


def main():
    exp = {}
    d, ev, td, out = load_real('tdx-lite-getquote.json')
    exp['tdx_lite'] = out
    d, ev, td, out = load_real('tappd-v1-report.json')
    exp['tappd_v1'] = out

    one = [(0x000c, 48, lambda e, p: bytes.fromhex(e['digest']))]
    two = [(0x000b, 32, lambda e, p: sha256(p))] + one
    c1, c2 = ccel(ev, one), ccel(ev, two)
    open(os.path.join(HERE, 'ccel-tappd.bin'), 'wb').write(c1)
    open(os.path.join(HERE, 'ccel-tappd-2alg.bin'), 'wb').write(c2)
    exp['ccel'] = {'rtmr': [x.hex() for x in td['rtmr'][:3]], 'n_events': sum(1 for e in ev if e['imr'] < 3),
                   'len_1alg': len(c1), 'len_2alg': len(c2)}

    js, vev, r, boot, ids = v2_log()
    text = json.dumps(js, ensure_ascii=False, separators=(',', ':'))
    open(os.path.join(HERE, 'v2-eventlog.json'), 'w', encoding='utf-8').write(text)
    synth = {'mrtd': bytes(range(48)), 'mrconfigid': bytes(48), 'mrowner': bytes(48),
             'mrownerconfig': bytes(48), 'rtmr': r}
    synth_cfg = dict(synth, mrconfigid=b'\x01' + ids['compose-hash'] + bytes(15))
    exp['v2'] = {
        'rtmr': [x.hex() for x in r], 'rtmr3_boot': boot.hex(), 'n_events': len(js),
        'digests': [e['_d'].hex() for e in vev],
        'mr_system': mr_system(synth, ids['key-provider']).hex(),
        'mr_aggregated': mr_aggregated(synth, r[3]).hex(),
        'mr_aggregated_boot': mr_aggregated(synth, boot).hex(),
        'mr_aggregated_cfg': mr_aggregated(synth_cfg, r[3]).hex(),
        'ids': {k: v.hex() for k, v in ids.items()},
    }
    # Single-event known answers.
    exp['kat'] = {
        'v1_app_id_deadbeef': v1_digest('app-id', bytes.fromhex('deadbeef')).hex(),
        'v1_empty': v1_digest('', b'').hex(),
        'v2_compose_abcd_preimage': v2_preimage('compose-hash', bytes.fromhex('abcd')).decode(),
        'v2_compose_abcd': sha384(v2_preimage('compose-hash', bytes.fromhex('abcd'))).hex(),
        'v2_escape_preimage': v2_preimage('event"with\\special\nchars', b'\xff').decode(),
        'v2_controls_preimage': v2_preimage('\b\f\n\r\t\x01', b'').decode(),
        'extend_zero_zero': extend(bytes(48), bytes(48)).hex(),
        'ratls_report_data_spki_0102': hashlib.sha512(b'ratls-cert:' + b'\x01\x02').hexdigest(),
        'app_data_report_data_hello': hashlib.sha512(b'app-data:hello').hexdigest(),
        'device_id_ppid_00_0f': sha256(bytes(range(16))).hex(),
        'snp_mr_aggregated_m01_h02': sha256(b'\x01' * 48 + b'\x02' * 32).hex(),
        'snp_device_id_chip03': sha256(b'\x03' * 64).hex(),
    }
    json.dump(exp, open(os.path.join(HERE, 'expected.json'), 'w', encoding='utf-8'), indent=1,
              ensure_ascii=False, sort_keys=True)
    open(os.path.join(HERE, 'expected.json'), 'a').write('\n')


if __name__ == '__main__':
    main()
