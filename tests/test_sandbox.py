"""The sandbox, proven as root and as an ordinary user: one class of hostile submissions each.

The probes run in the lab as handed out (no training), in its exercise cells; the grader
runs with a 3 GiB memory budget on a Dask LocalCluster, beside a listening TCP socket and a
secret in its environment. The judge's control below (the solved lab trained on a few
images) is handed in with a FIFO and links beside the notebook: it is graded as a plain notebook
and loses only the two tests its short training loses. A link in place of a notebook and a link
in place of a student's folder are refused, with a message, so nobody else's grade may change.

The judge is proven in the same classes: the course's confusion-matrix test also probes the
process it runs in (its user, the network, the course's files), and three submissions hand the
judge hostile values, two each, in different cells (a model whose configuration describes a
huge layer, one naming a file, one naming a class that is not a Keras layer, an array file
claiming gigabytes, a function that never returns, and a switch that makes the judge exit in the
middle of a test). Each is the lab solved but trained on a few images (`SHORT_FIT`): each must
lose exactly what the same notebook without its tricks loses, plus the tests they aim at.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest

from course_utils.assignments import generate
from course_utils.environment import tool_env
from course_utils.grading.gradebook import runs as gradebook_runs
from course_utils.grading.jobs import Limits
from support import Course
from support.mistakes import LAB
from support.notebooks import cell, with_code

ASSIGNMENT = "lab3_part2"
IS_ROOT = os.geteuid() == 0
NOBODY = 65534
MEMORY = 3 * 2**30
MARK = "sandbox-mark-" + secrets.token_hex(6)
SECRET = "secret-" + secrets.token_hex(8)

# What the student's kernel and the judge each report of their own process: user, parent,
# host name, the launcher's memory limit, capabilities and new privileges (`assert_confined`).
PROCESS = """
import os as _os, resource as _resource, socket as _socket
_process = {"uid": _os.getuid(), "parent": _os.getppid(), "host": _socket.gethostname()}
_process["data_limit"] = _resource.getrlimit(_resource.RLIMIT_DATA)
with open("/proc/self/status") as _f:
    _lines = [_l.split(":", 1) for _l in _f.read().splitlines()]
_wanted = ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")
_process["status"] = {_l[0]: _l[1].strip() for _l in _lines if _l[0] in _wanted}
"""

PROBE = (
    """
import json as _json, os as _os, socket as _socket, subprocess as _subprocess, sys as _sys
"""
    + PROCESS
    + """
_found = dict(_process)
_secret = %(secret)r
_found["secret_seen"] = any(
    _secret in open(f"/proc/{p}/environ", errors="replace").read()
    for p in _os.listdir("/proc") if p.isdigit() and _os.access(f"/proc/{p}/environ", _os.R_OK)
) or any(_secret in v for v in _os.environ.values())
_found["environment"] = sorted(_os.environ)
_own = set()  # what this sandbox listens on itself (the kernel's own loopback)
for _table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for _line in open(_table).read().splitlines()[1:]:
        _fields = _line.split()
        if _fields[3] == "0A":
            _own.add(int(_fields[1].rsplit(":", 1)[1], 16))
_found["foreign_ports_open"] = []
for _port in range(1, 65536):
    _s = _socket.socket()
    _s.settimeout(0.2)
    if _s.connect_ex(("127.0.0.1", _port)) == 0 and _port not in _own:
        if _s.getsockname()[1] != _port:  # not TCP's connection of a socket to itself
            _found["foreign_ports_open"].append(_port)
    _s.close()
for _name, _address in (("loopback", "127.0.0.1"), ("network", %(host)r)):
    try:
        _socket.create_connection((_address, %(port)d), timeout=3)
        _found[_name] = "connected"
    except OSError as _e:
        _found[_name] = type(_e).__name__
_reads = {}
for _path in %(reads)r:
    try:
        with open(_path, "rb") as _f:
            _reads[_path] = "read %%d bytes" %% len(_f.read())
    except OSError as _e:
        _reads[_path] = type(_e).__name__
_found["reads"] = _reads
_writes = {}
for _path in %(writes)r:
    try:
        with open(_path, "ab") as _f:
            _f.write(b"x")
        _writes[_path] = "wrote"
    except OSError as _e:
        _writes[_path] = type(_e).__name__
_found["writes"] = _writes
for _folder in ("/tmp", "/var/tmp", "/dev/shm", _os.path.expanduser("~")):
    try:
        open(_os.path.join(_folder, %(mark)r), "w").write("left behind")
    except OSError:
        pass
_subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(900)", %(mark)r],
                  start_new_session=True)
_found["dev_shm_written"] = 0
try:  # files of 256 MiB (each file is also capped) until /dev/shm is full
    for _k in range(12):
        with open(f"/dev/shm/big{_k}", "wb") as _f:
            for _ in range(256):
                _f.write(bytes(2**20))
                _found["dev_shm_written"] += 2**20
    _found["dev_shm"] = "wrote 3 GiB"
except OSError as _e:
    _found["dev_shm"] = _e.strerror
_found["disk_writable"] = []  # folders of this machine's disk the kernel may write
for _line in open("/proc/self/mountinfo").read().splitlines():
    _left, _right = _line.split(" - ")
    _point, _options, _fstype = _left.split()[4], _left.split()[5], _right.split()[0]
    _kinds = ("tmpfs", "proc", "devpts", "mqueue")
    if "rw" in _options.split(",") and _fstype not in _kinds and _os.path.isdir(_point):
        _found["disk_writable"].append(_point.rsplit("/", 1)[1])
print("PROBE " + _json.dumps(_found))
"""
)

SHARED_MEMORY = """
import mmap as _mmap
_m = _mmap.mmap(-1, 4 * 2**30, flags=_mmap.MAP_SHARED)
for _i in range(0, len(_m), 4096):
    _m[_i] = 1
print("SURVIVED with 4 GiB of shared memory")
"""

MANY_PROCESSES = """
import os as _os, time as _time
_done, _told = _os.pipe()  # each child says when it holds its 600 MiB
_os.set_blocking(_done, False)
_children = []
for _ in range(8):
    _pid = _os.fork()
    if _pid == 0:
        try:  # a child that cannot allocate leaves at once (never a second kernel)
            _held = b"x" * (600 * 2**20)
            _os.write(_told, b"1")
            _time.sleep(30)
        finally:
            _os._exit(0)
    _children.append(_pid)
_time.sleep(15)
_alive = sum(_os.waitpid(_p, _os.WNOHANG) == (0, 0) for _p in _children)
try:
    _holding = len(_os.read(_done, 64))
except BlockingIOError:
    _holding = 0
_data = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmData")]
print(f"ALIVE {min(_holding, _alive)} children holding 600 MiB each "
      f"({_alive} alive, {_holding} allocated; VmData {_data} kB)")
"""

FORK_BOMB = """
import subprocess as _subprocess, sys as _sys
_bomb = '''
import os, signal, time
children = []
try:
    while len(children) < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print("FORKED 5000")
except OSError as e:
    print(f"FORK STOPPED after {len(children)}: {e.strerror}")
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
'''
print(_subprocess.run([_sys.executable, "-c", _bomb], capture_output=True, text=True).stdout)
"""


JUDGE_PROBE = (
    """
try:  # the course's own probe of the process that runs this test (the judge)
    import json as _json
"""
    + textwrap.indent(PROCESS, "    ")
    + """
    _probe = dict(_process)
    _probe["secret_seen"] = any(%(secret)r in v for v in _os.environ.values())
    from course_utils.grading import judge as _judge  # answers read so far: deleted once read
    _probe["answers_left"] = sorted(_os.listdir(_judge._kernel.inbox))
    for _name, _address in (("loopback", "127.0.0.1"), ("network", %(host)r)):
        try:
            _socket.create_connection((_address, %(port)d), timeout=3).close()
            _probe[_name] = "connected"
        except OSError as _e:
            _probe[_name] = type(_e).__name__
    _probe["reads"] = {}
    for _path in %(reads)r:
        try:
            with open(_path, "rb") as _f:
                _probe["reads"][_path] = "read %%d bytes" %% len(_f.read())
        except OSError as _e:
            _probe["reads"][_path] = type(_e).__name__
    print("JUDGE " + _json.dumps(_probe))
except Exception as _e:
    print("JUDGE FAILED", type(_e).__name__, _e)
"""
)

# What each hostile value for the judge is, the solution cell it is added to (locked cells are put
# back as they were), the test it aims at and a word of what that test must say.
PATCHED_BUILD = """
import json as _json
_real_build_model = build_model
_built = []


def build_model(num_filters):
    net = _real_build_model(num_filters)
    _built.append(num_filters)
    if len(_built) == 1:  # the notebook's own model, built in the next (locked) cell
        return net
    config = _json.loads(net.to_json())
%s
    text = _json.dumps(config)
    net.to_json = lambda **kwargs: text
    return net
"""
HUGE_DENSE = (
    PATCHED_BUILD
    % """    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer["config"]["units"] = 2**21  # 400 million weights: gigabytes to build"""
)
FOREIGN_CLASS = (
    PATCHED_BUILD
    % """    config["config"]["layers"].insert(1, {
        "module": "keras.config", "class_name": "enable_unsafe_deserialization",
        "config": {}, "registered_name": None,
    })"""
)
VOCABULARY_FILE = """
import json as _json
_real_compile_model = compile_model


def compile_model(net):
    net = _real_compile_model(net)
    config = _json.loads(net.to_json())
    config["config"]["layers"].insert(1, {
        "module": "keras.layers", "class_name": "StringLookup",
        "config": {"name": "lookup", "vocabulary": "/etc/shadow"}, "registered_name": None,
    })
    text = _json.dumps(config)
    net.to_json = lambda **kwargs: text
    return net
"""
HUGE_ARRAY = """
_real_save = np.save


def _claims_gigabytes(file, arr, *args, **kwargs):  # what the grader's bridge writes with
    array = np.asarray(arr)
    if array.ndim == 4 and array.shape[1:] == (28, 28, 1):
        with open(file, "wb") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f8", "fortran_order": False, "shape": (2**30,)}
            )
            f.write(bytes(64))
        return None
    return _real_save(file, arr, *args, **kwargs)


np.save = _claims_gigabytes
"""
NEVER_RETURNS = """
import time as _time
_real_preprocess_images = preprocess_images
_calls = []


def preprocess_images(images):
    _calls.append(len(images))
    if len(_calls) <= 2:  # the notebook's own training and test images (the next cell)
        return _real_preprocess_images(images)
    while True:
        _time.sleep(1)
"""
JUDGE_ATTACKS = {
    "judge_huge_dense": ("model", HUGE_DENSE, "test_model", "parameters"),
    "judge_foreign_class": (
        "model",
        FOREIGN_CLASS,
        "test_model",
        "enable_unsafe_deserialization",
    ),
    "judge_vocabulary_file": ("compile", VOCABULARY_FILE, "test_compile", "/etc/shadow"),
    "judge_huge_array": ("preprocess", HUGE_ARRAY, "test_preprocess", "bytes"),
    "judge_never_returns": ("preprocess", NEVER_RETURNS, "test_preprocess", "did not answer"),
    "judge_dies": ("model", "\njudge_exit = True\n", "test_model", "judge stopped"),
}
REQUEST_TIMEOUT = 20
#: what the solved lab trained on a few images loses: the training's length (its steps) and the
#: accuracy's threshold
SHORT_TRAINING_LOSES = {"test_train", "test_accuracy"}
# The course's own switch in its model test: a notebook that sets judge_exit makes the judge
# exit there (as a crash would), to show that a fresh judge takes the next test.
JUDGE_EXIT = """
try:
    judge_exit
except NameError:
    pass
else:
    if judge_exit is True:
        import os as _os
        _os._exit(3)
"""


# The attacks handed in together, each in a cell and aimed at a test of its own: a hostile
# value costs only its own test even beside others (the judge that exits in the model test is
# replaced for the compile test's attack).
JUDGE_GROUPS = (
    ("judge_huge_dense", "judge_huge_array"),
    ("judge_foreign_class", "judge_never_returns"),
    ("judge_dies", "judge_vocabulary_file"),
)


def judge_submissions(course: Course) -> dict[str, nbformat.NotebookNode]:
    """The solved lab trained on a few images, without and with the hostile values: student
    ("attack__attack") -> notebook."""
    from support.hostile import SHORT_FIT

    assert sorted(a for group in JUDGE_GROUPS for a in group) == sorted(JUDGE_ATTACKS)
    short = course.solved(LAB.answers)
    cell(short, "train").source = SHORT_FIT
    found = {"judge_control": short}
    for group in JUDGE_GROUPS:
        nb = short
        for attack in group:
            after, code, _, _ = JUDGE_ATTACKS[attack]
            nb = with_code(nb, after, after="\n" + code)
        found["__".join(group)] = nb
    return found


def host_address() -> str:
    """This machine's address on its network (the probe must not reach it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def submissions(course: Course, port: int) -> dict[str, nbformat.NotebookNode]:
    release = nbformat.read(course.release, as_version=4)
    values = probe_values(course, port)
    probes = with_code(release, "preprocess", after="\n" + PROBE % values)
    probes = with_code(probes, "model", before=FORK_BOMB)
    probes = with_code(probes, "accuracy", before=MANY_PROCESSES)  # last: it may kill the kernel
    return {
        "probes": probes,
        "shared_memory": with_code(release, "preprocess", after="\n" + SHARED_MEMORY),
        **judge_submissions(course),
    }


def probe_values(course: Course, port: int) -> dict:
    """What the probes look for: the secret, the host, the listener, the course's files."""
    return {
        "secret": SECRET,
        "host": host_address(),
        "port": port,
        "mark": MARK,
        "reads": [
            str(course.root / "gradebook.db"),
            str(course.source),
            str(course.root / "submitted" / "judge_control" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
            "/etc/shadow",
        ],
        "writes": [os.__file__, str(Path(__file__).parent.parent / "course_utils" / "x.py")],
    }


def probe_the_judge(course: Course, port: int) -> None:
    """Add the judge's probe to the course's confusion-matrix test and its exit switch to the
    model test, and generate again."""
    source = nbformat.read(course.source, as_version=4)
    test = cell(source, "test_confusion")
    test.source = JUDGE_PROBE % probe_values(course, port) + test.source
    cell(source, "test_model").source = JUDGE_EXIT + cell(source, "test_model").source
    nbformat.write(source, course.source)
    generate(ASSIGNMENT, course.root)


def run_as(user: str, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`command` as root, or as an ordinary user (nobody, when the tests run as root)."""
    if user == "user" and IS_ROOT:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + command
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=1500)


def leftovers() -> dict[str, list[str]]:
    """Files and processes a probe left behind, anywhere on this machine."""
    folders = ("/tmp", "/var/tmp", "/dev/shm")
    files = [str(p) for folder in folders for p in Path(folder).glob(MARK + "*")]
    processes = []
    for p in psutil.process_iter(["cmdline"]):
        if MARK in " ".join(p.info["cmdline"] or []):
            processes.append(str(p.pid))
    return {"files": files, "processes": processes}


@pytest.fixture(scope="module", params=["root", "user"])
def sandboxed(request):
    user = request.param
    if user == "root" and not IS_ROOT:
        pytest.skip("the tests do not run as root here")
    folder = Path(tempfile.mkdtemp(prefix="course-kit-sandbox-test-"))
    os.chmod(folder, 0o755)
    (folder / "course").mkdir()
    course = Course(folder / "course", ASSIGNMENT)
    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    probe_the_judge(course, port)
    for student, nb in submissions(course, port).items():
        course.submit(student, nb)
    specials = course.root / "submitted" / "judge_control" / ASSIGNMENT
    os.mkfifo(specials / "pipe")
    (specials / "shadow.txt").symlink_to("/etc/shadow")
    (specials / "course").symlink_to(course.root)
    fake = course.root / "submitted" / "probes" / ASSIGNMENT / "course_utils" / "grading"
    fake.mkdir(parents=True)  # a kit of its own: it must not run where the grader does
    for init in (fake / "__init__.py", fake.parent / "__init__.py"):
        init.write_text("")
    (fake / "sandbox.py").write_text(f"open('/tmp/{MARK}-launcher', 'w').write('ran')\n")
    linked = course.root / "submitted" / "linked_notebook" / ASSIGNMENT
    linked.mkdir(parents=True)
    (linked / f"{ASSIGNMENT}.ipynb").symlink_to(course.root / "gradebook.db")
    (course.root / "submitted" / "linked_folder").symlink_to(course.root / "source")
    home = folder / "home"
    home.mkdir()
    if IS_ROOT and user == "user":
        shutil.chown(folder, NOBODY, NOBODY)
        for path in [home, *course.root.rglob("*"), course.root]:
            os.lchown(path, NOBODY, NOBODY)
    env = tool_env(HOME=str(home), COURSE_KIT_TEST_SECRET=SECRET)
    command = course.grade_command(
        "--dask",
        "local",
        "--workers",
        "2",
        "--memory",
        str(MEMORY),
        "--epochs",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
    )
    try:
        run = run_as(user, command, env)
    finally:
        listener.close()
    result = {"user": user, "course": course, "run": run, "left": leftovers(), "port": port}
    yield result
    shutil.rmtree(folder, ignore_errors=True)


def printed(course: Course, student: str, marker: str) -> str:
    """The line `marker` starts in `student`'s graded notebook ("" if none)."""
    for c in course.autograded(student).cells:
        for out in c.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                if line.startswith(marker):
                    return line
    return ""


def said(course: Course, student: str) -> str:
    """Every error the graded notebook shows."""
    return " ".join(
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in course.autograded(student).cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    )


def test_the_class_is_graded_and_links_are_refused_with_a_message(sandboxed):
    course, run = sandboxed["course"], sandboxed["run"]
    assert run.returncode == 1, run.stdout + run.stderr  # 1: some submissions failed
    graded = 3 + len(JUDGE_GROUPS)  # the probes, shared memory, the control, the attacks
    assert f"{graded} graded, 2 failed" in run.stdout, run.stdout + run.stderr
    rows = {
        r["student_id"]: r for r in csv.DictReader(open(course.root / "grades" / "lab3_part2.csv"))
    }
    assert "lab3_part2.ipynb is a link" in run.stdout + run.stderr
    assert "linked_folder is a link" in run.stdout + run.stderr
    assert rows["linked_notebook"]["status"].startswith("failed: not graded: lab3_part2.ipynb is")
    assert rows["linked_folder"]["status"].startswith("failed: not graded: linked_folder is")
    assert rows["judge_control"]["status"] == rows["probes"]["status"] == "graded"
    db = sqlite3.connect(course.root / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert oct(os.stat(course.root / "gradebook.db").st_mode & 0o777) != "0o444"


def test_a_submission_with_a_fifo_and_links_is_graded_as_a_plain_notebook(sandboxed):
    course = sandboxed["course"]
    scores = course.scores()["judge_control"]
    lost = {test for test, (score, most) in scores.items() if score != most}
    assert lost == SHORT_TRAINING_LOSES, scores
    graded = course.root / "autograded" / "judge_control" / ASSIGNMENT
    assert sorted(p.name for p in graded.iterdir() if not p.name.startswith(".")) == [
        f"{ASSIGNMENT}.ipynb"
    ]


def assert_confined(found: dict, user: str) -> None:
    """What `PROCESS` found in the student's kernel or the judge: the launcher's memory limit,
    no capability, no new privilege, in the sandbox; as root, forked by a kernel server (its
    parent is outside its PID namespace, its bounding set empty)."""
    assert found["data_limit"] == [MEMORY, MEMORY], found
    status = found["status"]
    assert status["CapEff"] == status["CapPrm"] == "0000000000000000", status
    assert status["NoNewPrivs"] == "1" and found["host"] == "sandbox", found
    if user == "root":
        assert found["parent"] == 0 and status["CapBnd"] == "0000000000000000", found


def test_the_kernel_sees_no_secret_no_network_no_course_and_writes_nothing_it_reads(sandboxed):
    found = json.loads(printed(sandboxed["course"], "probes", "PROBE ")[len("PROBE ") :])
    assert found["uid"] != 0
    assert found["secret_seen"] is False
    assert "COURSE_KIT_TEST_SECRET" not in found["environment"]
    assert found["foreign_ports_open"] == []  # the grader's, the scheduler's, other kernels'
    assert found["loopback"] == "ConnectionRefusedError"
    assert found["network"] != "connected"
    assert set(found["reads"].values()) <= {"FileNotFoundError", "PermissionError"}, found
    assert set(found["writes"].values()) <= {"OSError", "PermissionError"}, found
    # as root every folder it writes is a tmpfs; as a user, the grader cannot mount one over
    # the bridge's two folders (each file there is capped at 512 MiB)
    expected = [] if sandboxed["user"] == "root" else ["from-student", "sockets"]
    assert sorted(found["disk_writable"]) == expected
    assert found["dev_shm"] == "No space left on device"
    assert found["dev_shm_written"] <= Limits().disk
    assert_confined(found, sandboxed["user"])


def test_nothing_outlives_the_kernel(sandboxed):
    assert printed(sandboxed["course"], "probes", "PROBE ")
    assert sandboxed["left"] == {"files": [], "processes": []}


def test_shared_memory_counts_against_the_budget(sandboxed):
    course = sandboxed["course"]
    assert not printed(course, "shared_memory", "SURVIVED")
    stopped = ("KernelDied", "MemoryError", "Cannot allocate memory")
    assert any(word in said(course, "shared_memory") for word in stopped)


def test_processes_share_one_memory_budget(sandboxed):
    course = sandboxed["course"]
    line = printed(course, "probes", "ALIVE ")
    if line:  # the kernel lived: the children holding memory fit in the budget with it
        assert int(line.split()[1]) * 600 * 2**20 < MEMORY, line
    else:
        assert "KernelDied" in said(course, "probes")


def test_the_number_of_processes_is_capped(sandboxed):
    line = printed(sandboxed["course"], "probes", "FORK")
    assert line.startswith("FORK STOPPED"), line
    assert int(line.split()[3].rstrip(":")) <= 1024


def test_the_local_scheduler_speaks_tls_and_refuses_a_client_without_the_runs_certificate():
    from distributed import Client

    from course_utils.grading.executors import DaskExecutor

    executor = DaskExecutor("local", 1)
    try:
        address = executor.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        with pytest.raises((TypeError, OSError)):
            Client(address, timeout=5)
    finally:
        executor.close()


def test_a_remote_scheduler_needs_tls_and_certificates(monkeypatch):
    from course_utils.grading.executors import remote_security
    from course_utils.grading.jobs import GradingError

    with pytest.raises(GradingError, match="only tls:// addresses"):
        remote_security("tcp://scheduler:8786")
    with pytest.raises(GradingError, match="no TLS certificates"):
        remote_security("tls://scheduler:8786")


def test_without_namespaces_the_grader_says_why_and_what_to_do(monkeypatch):
    from course_utils.grading import namespaces

    monkeypatch.setattr(namespaces, "bwrap", lambda: None)
    assert "bubblewrap (bwrap) is not installed" in namespaces.unavailable()
    monkeypatch.setattr(namespaces, "bwrap", lambda: "/bin/false")  # namespaces refused
    message = namespaces.unavailable()
    assert message.startswith("namespaces are not available here")
    assert "--no-isolation" in message


def test_the_judge_runs_as_its_own_user_without_network_or_course(sandboxed):
    course = sandboxed["course"]
    line = printed(course, "judge_control", "JUDGE ")
    assert line.startswith("JUDGE {"), line
    found = json.loads(line[len("JUDGE ") :])
    probes = json.loads(printed(course, "probes", "PROBE ")[len("PROBE ") :])
    assert found["uid"] != 0 and found["secret_seen"] is False
    assert found["answers_left"] == []  # the judge deletes each answer of the kernel once read
    if sandboxed["user"] == "root":  # a user of its own, apart from the student's kernel
        assert found["uid"] != probes["uid"]
    assert found["loopback"] == "ConnectionRefusedError"
    assert found["network"] != "connected"
    assert set(found["reads"].values()) <= {"FileNotFoundError", "PermissionError"}, found
    assert_confined(found, sandboxed["user"])  # --judge-memory: as much as --memory


def test_each_hostile_value_costs_the_judge_only_its_own_test(sandboxed):
    course = sandboxed["course"]
    scores = course.scores()
    control = {t for t, (score, most) in scores["judge_control"].items() if score != most}
    assert {"test_preprocess", "test_model", "test_compile"}.isdisjoint(control), control
    for group in JUDGE_GROUPS:
        student = "__".join(group)
        lost = {t for t, (score, most) in scores[student].items() if score != most}
        assert lost == control | {JUDGE_ATTACKS[a][2] for a in group}, (student, lost)
        for attack in group:
            _, _, target, why = JUDGE_ATTACKS[attack]
            said_there = " ".join(
                str(o.get("text", "")) + str(o.get("evalue", ""))
                for c in course.autograded(student).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == target
                for o in c.get("outputs", [])
            )
            assert why in said_there, (attack, said_there[-2000:])


def test_the_judge_stays_within_its_memory_budget(sandboxed):
    runs = gradebook_runs(sandboxed["course"].root / "gradebook.db", ASSIGNMENT)
    if sandboxed["user"] == "root":  # measured by its control group
        peaks = {s: r["judge_peak"] for s, r in runs.items() if s.startswith("judge_")}
        assert peaks and all(0 < peak <= MEMORY for peak in peaks.values()), peaks
    assert {"__".join(group) for group in JUDGE_GROUPS} <= set(runs)
