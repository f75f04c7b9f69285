"""nbgrader's file exchange with real Unix users (tests/support/exchange.py): two students fetch
and submit, the instructor collects and releases feedback, each student fetches only their own.
Runs as root (as CI does); skipped elsewhere."""

from __future__ import annotations

import json
import shutil
import stat

import nbformat

from support.exchange import Exchange, tiny_notebook, unix_users, user_exists
from support.paths import ROOT

DEMO = "demo_intro"


def _assignment(exchange: Exchange) -> str:
    """The repository's small demo assignment if it has one, else a tiny notebook of our own."""
    if (ROOT / "source" / DEMO).is_dir():
        exchange.add_source(DEMO)
        return DEMO
    exchange.add_source("exchange_demo", tiny_notebook())
    return "exchange_demo"


def test_students_submit_and_fetch_their_own_feedback(tmp_path):
    with unix_users(["alice", "bob"]) as users, Exchange(tmp_path / "course") as exchange:
        alice, bob = users["alice"], users["bob"]
        assignment = _assignment(exchange)
        released = exchange.release(assignment)
        assert "Released as" in released.stderr
        assert "Permissions for exchange directory" not in released.stderr  # 1777 is fine
        course = exchange.course_path
        modes = {
            name: stat.S_IMODE((course / name).stat().st_mode)
            for name in (".", "outbound", "inbound")
        }
        assert modes == {".": 0o755, "outbound": 0o755, "inbound": 0o2733}
        assert stat.S_IMODE(exchange.root.stat().st_mode) == 0o1777

        fetched = exchange.fetch(alice, assignment)
        notebooks = sorted(fetched.glob("*.ipynb"))
        assert notebooks and fetched.stat().st_uid == alice.pw_uid
        exchange.fetch(bob, assignment)

        # Alice changes her notebook; Bob hands his in as fetched.
        nb = nbformat.read(notebooks[0], as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("alice was here"))
        alice_bytes = json.dumps(nb, indent=1).encode()
        exchange.submit(alice, assignment, alice_bytes, notebook=notebooks[0].name)
        exchange.submit(bob, assignment)

        inbound = exchange.inbound()  # one folder per submission, owned by its student
        assert sorted(folder.uid for folder in inbound) == sorted([alice.pw_uid, bob.pw_uid])
        folders = {folder.uid: folder for folder in inbound}
        for user in (alice, bob):
            folder = folders[user.pw_uid]
            assert folder.name.startswith(f"{user.pw_name}+{assignment}+")
            assert (folder.path / "timestamp.txt").is_file()
            assert len((folder.path / "submission_secret.txt").read_text()) == 128
            # nbgrader's modes: the folder 0777 (so that the instructor can delete it), its
            # files 0644; what hides it is that nobody else can list inbound to learn its name.
            assert stat.S_IMODE(folder.path.stat().st_mode) == 0o777
            assert stat.S_IMODE((folder.path / "timestamp.txt").stat().st_mode) == 0o644
        submitted = folders[alice.pw_uid].path / notebooks[0].name
        assert submitted.read_bytes() == alice_bytes

        # A real attempt: Alice cannot list inbound, so she cannot find Bob's folder...
        peek = exchange.as_user(alice, ["ls", str(course / "inbound")])
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, peek
        # ...nor guess it: his folder's name ends with a random string.
        known = course / "inbound" / (folders[bob.pw_uid].name.rsplit("+", 1)[0] + "+")
        glob = exchange.as_user(alice, ["sh", "-c", 'ls -d -- "$1"*', "sh", str(known)])
        assert glob.returncode != 0, glob
        # ...nor read Bob's home (his cache of submissions holds his submission secret).
        home = exchange.as_user(alice, ["ls", bob.pw_dir])
        assert home.returncode != 0 and "Permission denied" in home.stderr, home

        collected = exchange.collect(assignment)
        assert "cheating attempt" not in collected.stdout + collected.stderr
        feedback = exchange.course / "feedback"
        for user in (alice, bob):
            source = exchange.course / "submitted" / user.pw_name / assignment
            assert (source / "submission_secret.txt").read_text() == (
                folders[user.pw_uid].path / "submission_secret.txt"
            ).read_text()
            target = feedback / user.pw_name / assignment
            target.mkdir(parents=True)
            for name in ("timestamp.txt", "submission_secret.txt"):
                shutil.copy(source / name, target / name)
            for notebook in notebooks:
                (target / f"{notebook.stem}.html").write_text(f"<p>feedback for {user.pw_name}</p>")
        exchange.release_feedback(assignment)
        assert stat.S_IMODE((course / "feedback").stat().st_mode) == 0o711
        peek = exchange.as_user(alice, ["ls", str(course / "feedback")])
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, peek

        for user in (alice, bob):
            files = exchange.fetch_feedback(user, assignment)
            assert sorted(p.name for p in files) == sorted(f"{n.stem}.html" for n in notebooks)
            for path, text in files.items():
                assert path.is_relative_to(user.pw_dir)
                assert path.stat().st_uid == user.pw_uid
                assert text == f"<p>feedback for {user.pw_name}</p>"
        logins = [user.pw_name for user in users.values()]
    assert not any(user_exists(login) for login in logins)
    assert not exchange.base.exists()
