from hastack import vip


def test_holders_report_flags_split_brain_and_missing(good):
    held = {"ctl1": ["api", "db"], "ctl2": ["api"], "ctl3": []}
    report = vip.holders_report(good, held)
    assert report["api"] == {"address": "198.18.10.100", "holders": ["ctl1", "ctl2"],
                             "status": "split-brain"}
    assert report["db"]["status"] == "ok" and report["db"]["holders"] == ["ctl1"]
    assert report["api2"]["status"] == "missing"


def test_a_silent_possible_holder_makes_it_unknown_not_missing(good):
    report = vip.holders_report(good, {"ctl1": [], "ctl3": []}, unreachable=["ctl2"])
    assert report["api2"]["status"] == "unknown"


def test_garp_frame():
    frame = vip.garp_frame("02:00:00:aa:bb:cc", "198.18.10.100")
    assert len(frame) == 42
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("020000aabbcc")
    assert frame[12:14] == b"\x08\x06"
    sender_ip, target_ip = frame[28:32], frame[38:42]
    assert sender_ip == target_ip == bytes([198, 18, 10, 100])
