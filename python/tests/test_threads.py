"""One compiled model shared by Python threads: the GIL is released while a model runs,
so other threads execute Python meanwhile and concurrent runs give the sequential results."""

import threading

import numpy as np
import pytest

import scc
from conftest import EXAMPLES


@pytest.fixture(scope="module", params=["jit", "interp"])
def model(request):
    return scc.compile(EXAMPLES / "resnet20s.sc", 1, engine=request.param, input_shapes={"image": (4, 3, 32, 32)})


def feed(seed):
    return {"image": np.random.default_rng(seed).uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32)}


def test_other_threads_run_python_while_a_model_runs(model):
    """While one thread is inside `run`, another executes Python bytecode. Were the GIL
    held, the main loop below could only start once `running` is already False again."""
    state = {"running": False, "iterations_during_run": 0}
    started = threading.Event()
    inputs = feed(0)

    def worker():
        state["running"] = True
        started.set()
        for _ in range(3):
            model.run(inputs)
        state["running"] = False

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait()
    while state["running"]:
        state["iterations_during_run"] += 1
    thread.join()
    assert state["iterations_during_run"] > 0


def test_concurrent_runs_give_the_sequential_results(model):
    feeds = [feed(seed) for seed in range(6)]
    expected = [model.run(f) for f in feeds]
    results = [None] * len(feeds)
    errors = []

    def worker(i):
        try:
            for _ in range(2):
                results[i] = model.run(None, feeds[i])
        except Exception as e:  # reported below, not swallowed
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(feeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got, want in zip(results, expected):
        (name, _), = model.outputs
        np.testing.assert_array_equal(got[0], want[name])


def test_errors_in_threads_are_exceptions(model):
    caught = []

    def worker():
        try:
            model.run({"image": np.zeros((1, 3, 32, 32), np.float32)})
        except scc.RunError as e:
            caught.append(str(e))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert caught == ["input `image` has shape [1, 3, 32, 32], expected [4, 3, 32, 32]"] * 4
