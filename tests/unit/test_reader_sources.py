"""Where records come from: trees with things that are not files, links, loops; standard input; names
that are not text."""

import io
import json
import os
import socket
import sys
import threading

import pytest

from harness.reader import InputNotFound, Reader
from fixturedata import fixture_records

RECORDS = fixture_records("root_console_brute_force/two_bursts_two_accounts.json")


def read(paths, stdin=None):
    skips = []
    reader = Reader(paths, on_skip=skips.append, stdin=stdin)
    got = list(reader)
    return [r for r, _ in got], [loc for _, loc in got], skips, reader


def in_thread(fn, seconds=20):
    """Run ``fn`` and fail (instead of hanging the suite) if it blocks."""
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the reader blocked"
    return out["value"]


def write_doc(path, records):
    path.write_text(json.dumps({"Records": records}))


def test_fifos_sockets_and_devices_in_a_tree_are_skipped_never_opened(tmp_path):
    write_doc(tmp_path / "good.json", RECORDS[:3])
    os.mkfifo(str(tmp_path / "pipe.json"))  # opening it would wait for a writer forever
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "sock.json"))
    try:
        records, _, skips, _ = in_thread(lambda: read([str(tmp_path)]))
    finally:
        sock.close()
    assert len(records) == 3
    assert sorted((s.reason, os.path.basename(s.location), s.detail) for s in skips) == [
        ("not a regular file", "pipe.json", "a FIFO"), ("not a regular file", "sock.json", "a socket")]


def test_a_fifo_named_on_the_command_line_is_read(tmp_path):
    # replay <(zcat trail.json.gz) hands the reader a pipe
    fifo = tmp_path / "pipe"
    os.mkfifo(str(fifo))

    def writer():
        with open(str(fifo), "w") as handle:
            handle.write(json.dumps({"Records": RECORDS[:2]}))

    threading.Thread(target=writer, daemon=True).start()
    records, _, skips, _ = in_thread(lambda: read([str(fifo)]))
    assert len(records) == 2 and skips == []


def test_symlinked_directories_are_followed_once_and_loops_reported(tmp_path):
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    write_doc(tree / "a" / "one.json", RECORDS[:2])
    outside = tmp_path / "outside"
    outside.mkdir()
    write_doc(outside / "two.json", RECORDS[2:5])
    os.symlink(str(outside), str(tree / "b"))        # followed: its records are read
    os.symlink(str(outside), str(tree / "c"))        # the same directory again: not read twice
    os.symlink(str(tree), str(tree / "a" / "up"))    # a loop back to the top
    records, _, skips, reader = in_thread(lambda: read([str(tree)]))
    assert sorted(r["eventID"] for r in records) == sorted(r["eventID"] for r in RECORDS[:5])
    assert [(s.reason, os.path.relpath(s.location, str(tree))) for s in skips] == [("symlink loop", "a/up")]
    assert reader.stats["directories already read"] == 1


def test_an_unreadable_directory_is_reported(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    write_doc(tmp_path / "open.json", RECORDS[:2])
    real = os.scandir

    def scandir(path):
        if os.path.basename(str(path)) == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    # the tests may run as root, whom permissions do not stop: refuse the listing itself
    monkeypatch.setattr(os, "scandir", scandir)
    records, _, skips, _ = read([str(tmp_path)])
    assert len(records) == 2
    assert [(s.reason, os.path.basename(s.location), s.detail) for s in skips] == [
        ("cannot read directory", "locked", "Permission denied")]


def test_a_broken_symlink_inside_a_tree_is_reported(tmp_path):
    os.symlink(str(tmp_path / "gone.json"), str(tmp_path / "link.json"))
    records, _, skips, _ = read([str(tmp_path)])
    assert records == [] and [s.reason for s in skips] == ["broken symlink"]


def test_missing_paths_on_the_command_line_are_an_error_naming_them(tmp_path):
    os.symlink(str(tmp_path / "gone"), str(tmp_path / "dangling"))
    with pytest.raises(InputNotFound) as err:
        list(Reader([str(tmp_path / "nope.json"), str(tmp_path / "dangling"), "-"], stdin=io.BytesIO(b"")))
    assert "nope.json" in str(err.value) and "dangling" in str(err.value)


def test_closed_standard_input_is_a_skip_not_a_traceback(monkeypatch):
    closed = io.BytesIO(b"")
    closed.close()
    records, _, skips, _ = read(["-"], stdin=closed)
    assert records == [] and [(s.reason, s.location) for s in skips] == [("cannot open", "<stdin>")]
    monkeypatch.setattr(sys, "stdin", None)  # what Python sets when started with stdin closed (<&-)
    records, _, skips, _ = read(["-"])
    assert records == [] and [(s.reason, s.location) for s in skips] == [("cannot open", "<stdin>")]


def test_file_names_that_are_not_text_give_printable_locations(tmp_path):
    name = b"bad\xff[bold red]name\x1b[2J.json"
    path = os.path.join(os.fsencode(str(tmp_path)), name)
    with open(path, "wb") as handle:
        handle.write(json.dumps({"Records": RECORDS[:1] + ["x"]}).encode())
    records, locations, skips, _ = read([str(tmp_path)])
    assert len(records) == 1 and len(skips) == 1
    for text in locations + [skips[0].location, str(skips[0])]:
        text.encode("utf-8")              # no lone surrogates: printable on any UTF-8 console
        assert "\x1b" not in text          # no terminal control sequences
        assert "bad\\xff[bold red]name\\x1b[2J.json" in text
