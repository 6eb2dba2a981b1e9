"""PIG fingering files and List.csv: parsing, quirks, round trips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fingering.notes import Note, NoteSequence
from fingering.pig import (format_pig, list_pieces, piece_files, pitch_from_name, read_pig,
                           read_pig_list, write_pig)
from handspec.errors import InputError

from conftest import PIG_DIR  # noqa: E402

FIXTURE = (
    "//Version: PianoFingering_v170101\n"
    "0\t0.00976574\t0.159182\tB4\t69\t80\t0\t3\n"
    "1\t0.00976574\t2.01963\tG2\t62\t80\t1\t-5\n"
    "3\t0.166994\t0.28223\tA4\t64\t-1\t0\t4_1\n"       # skipped id 2, offset vel -1
    "4\t0.290043\t1.5215\tC#5\t64\t80\t0\t2_\n"        # dangling substitution
    "5\t1.0254\t4.54037\tEb3\t64\t80\t1\t-2_1\n"       # mixed-sign substitution
)


def write(tmp_path: Path, text: str, name: str = "001-1_fingering.txt",
          encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_fixture_with_quirks(tmp_path):
    seq = read_pig(write(tmp_path, FIXTURE))
    assert len(seq) == 5 and seq.metadata["piece_id"] == "001"
    by_pitch = {n.pitch: n for n in seq}
    assert by_pitch[71] == Note(71, 0.00976574, 0.159182, 69, "right", (3,))
    assert by_pitch[43].hand == "left" and by_pitch[43].fingers == (5,)
    assert by_pitch[69].fingers == (4, 1) and by_pitch[69].finger == 4
    assert by_pitch[73].fingers == (2,)
    assert by_pitch[51].hand == "left" and by_pitch[51].fingers == (2, 1)
    # ordered by onset then pitch
    assert [n.pitch for n in seq][:2] == [43, 71]


def test_bom_crlf_and_zero_finger(tmp_path):
    text = FIXTURE.replace("\n", "\r\n").replace("\t0\t3\r\n", "\t0\t0\r\n")
    seq = read_pig(write(tmp_path, "\ufeff" + text))
    assert len(seq) == 5
    assert [n for n in seq if n.pitch == 71][0].fingers == ()


@pytest.mark.parametrize("name,pitch", [("A0", 21), ("C4", 60), ("C#4", 61), ("Eb5", 75),
                                        ("Bb2", 46), ("C8", 108), ("B#3", 60), ("Cb4", 59)])
def test_pitch_names(name, pitch):
    assert pitch_from_name(name) == pitch


@pytest.mark.parametrize("line,field", [
    ("0\t0.1\t0.2\tH4\t64\t80\t0\t1", "line 2: pitch"),
    ("0\t0.1\t0.2\tC9\t64\t80\t0\t1", "line 2: pitch"),
    ("0\tabc\t0.2\tC4\t64\t80\t0\t1", "line 2: onset"),
    ("0\t0.3\t0.2\tC4\t64\t80\t0\t1", "line 2: offset"),
    ("0\t0.1\tnan\tC4\t64\t80\t0\t1", "line 2: offset"),
    ("0\t0.1\t0.2\tC4\t64\t80\t2\t1", "line 2: channel"),
    ("0\t0.1\t0.2\tC4\t64\t80\t0\t6", "line 2: finger"),
    ("0\t0.1\t0.2\tC4\t64\t80\t0\tx", "line 2: finger"),
    ("0\t0.1\t0.2\tC4\t64\t80\t0", "line 2: fields"),
])
def test_bad_lines_name_file_line_and_field(tmp_path, line, field):
    path = write(tmp_path, "//Version: x\n" + line + "\n")
    with pytest.raises(InputError) as err:
        read_pig(path)
    message = err.value.one_line()
    assert str(path) in message and field in message and "\n" not in message


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_pig(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="no notes"):
        read_pig(write(tmp_path, "//Version: x\n"))
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="UTF-8"):
        read_pig(bad)


notes_strategy = st.lists(
    st.builds(
        lambda pitch, onset, dur, vel, hand, fingers: Note(pitch, onset, onset + dur, vel, hand,
                                                           fingers),
        st.integers(21, 108), st.floats(0, 500, allow_nan=False), st.floats(0, 10),
        st.integers(1, 127), st.sampled_from(["right", "left"]),
        st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple)),
    min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(notes_strategy)
def test_write_read_round_trip(tmp_path_factory, notes):
    seq = NoteSequence.from_notes(notes, name="x")
    path = tmp_path_factory.mktemp("rt") / "042-3_fingering.txt"
    write_pig(seq, path)
    back = read_pig(path)
    assert back.notes == seq.notes
    assert back.metadata["annotator"] == "3"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_write_needs_hands_and_is_atomic(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    seq = NoteSequence.from_notes([Note(60, 0.0, 1.0)])
    with pytest.raises(ValueError, match="no hand"):
        write_pig(seq, target)
    assert target.read_text() == "old"  # untouched
    assert format_pig(NoteSequence.from_notes([Note(60, 0.0, 1.0, 64, "left", (2, 1))])
                      ).splitlines()[1] == "0\t0.0\t1.0\tC4\t64\t80\t1\t-2_-1"


LIST_CSV = ("\ufeffId,Composer,Piece,#Bars,#Notes,#Fingering,Fingering 1,2,3,4,5,6,7,8\r\n"
            "001,Bach,Two-part invention in C major,22,469,4,YI,ES,,,HI,,,NH\r\n"
            '003,Bach,"Well-Tempered Clavier, Book I",19,417,1,YI,,,,,,,\r\n')


def test_read_pig_list_with_bom_and_quotes(tmp_path):
    path = write(tmp_path, LIST_CSV, "List.csv")
    pieces = read_pig_list(path)
    assert [p.id for p in pieces] == ["001", "003"]
    assert pieces[0].annotators == ((1, "YI"), (2, "ES"), (5, "HI"), (8, "NH"))
    assert pieces[1].title == "Well-Tempered Clavier, Book I" and pieces[1].bars == 19


def test_read_pig_list_errors(tmp_path):
    bad = write(tmp_path, LIST_CSV.replace("22,469", "x,469"), "List.csv")
    with pytest.raises(InputError, match=r"line 2: #Bars"):
        read_pig_list(bad)
    nohead = write(tmp_path, "Foo,Bar\n1,2\n", "L2.csv")
    with pytest.raises(InputError, match="missing column 'Id'"):
        read_pig_list(nohead)


def test_piece_files_and_listing(tmp_path):
    folder = tmp_path / "FingeringFiles"
    folder.mkdir()
    for name in ("008-8_fingering.txt", "008-1_fingering.txt", "008-2_fingering.txt",
                 "009-1_fingering.txt", "notes.md"):
        (folder / name).write_text(FIXTURE)
    assert [p.name for p in piece_files(tmp_path, 8)] == [
        "008-1_fingering.txt", "008-2_fingering.txt", "008-8_fingering.txt"]
    assert piece_files(folder, "008")[0].name == "008-1_fingering.txt"
    assert list_pieces(tmp_path) == ["008", "009"]
    with pytest.raises(InputError, match="no fingering files for piece 010"):
        piece_files(tmp_path, "10")
    with pytest.raises(InputError, match="not found"):
        piece_files(tmp_path / "missing", "008")
    with pytest.raises(InputError, match="piece id"):
        piece_files(tmp_path, "abc")


@pytest.mark.skipif(not PIG_DIR.is_dir(), reason="PIG data not available")
def test_shared_pig_pieces_parse_and_share_note_lists():
    for pid in list_pieces(PIG_DIR):
        seqs = [read_pig(p) for p in piece_files(PIG_DIR, pid)]
        reference = [(n.pitch, n.onset) for n in seqs[0]]
        assert all([(n.pitch, n.onset) for n in s] == reference for s in seqs)
        assert all(s.has_fingering for s in seqs)
