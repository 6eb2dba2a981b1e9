"""atomic_output: the target is replaced only by a complete file; failures leave nothing."""

import pytest

from handspec.atomic import atomic_output, write_text


def test_success_replaces_the_target(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path  # format-by-extension works
            tmp.write_bytes(b"half")
            raise RuntimeError("writer crashed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
