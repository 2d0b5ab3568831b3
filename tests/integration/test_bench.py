"""A quick run of the benchmark harness (bench/run.py) on tiny accounts: every
measurement parses, and ours and the Python + boto3 reference do the same
thing to the same account. No timing is asserted."""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from binaries import BUILD, ROOT, bootstrap_path, require

pytest.importorskip('boto3', reason='the reference needs python3-boto3 (make test installs it)')

spec = importlib.util.spec_from_file_location('bench_run', os.path.join(ROOT, 'bench', 'run.py'))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

SIZES = {'stopper': 150, 'terminator': 150, 'image_pruner': 30}


@pytest.fixture(scope='module')
def build():
    for fn in bench.FUNCTIONS:
        require(bootstrap_path(fn))
    return Path(BUILD)


@pytest.fixture(scope='module')
def warm(build):
    # raises if the two sides leave the account differently, or if neither changed it
    return bench.warm_runs(build, SIZES, lambda msg: None)


def _body(warm, fn, side):
    result = warm[fn][side]['results'][0]
    assert result['kind'] == 'response', result
    return result['body']


def test_stopper_sides_agree_and_follow_the_rules(warm):
    instances = bench.stopper_account(SIZES['stopper'])['instances']
    ours, ref = (set(_body(warm, 'stopper', s)['stopped']) for s in ('ours', 'reference'))
    assert ours == ref
    # every 50: an Auto Scaling member, opted out (true, a future date), an
    # expired date, "false", an unreadable opt-out; the rest have no opt-out
    expected = {inst['id'] for n, inst in enumerate(instances) if n % 50 in (3, 4) or n % 50 >= 6}
    assert ours == expected


def test_terminator_sides_agree(warm):
    ours, ref = (set(_body(warm, 'terminator', s)['terminated']) for s in ('ours', 'reference'))
    assert ours == ref
    assert 0 < len(ours) < SIZES['terminator']
    kept = {k['id'] for k in _body(warm, 'terminator', 'ours')['kept']}
    assert kept | ours == {i['id'] for i in bench.terminator_account(SIZES['terminator'])['instances']}


def test_image_pruner_sides_agree(warm):
    bodies = [_body(warm, 'image_pruner', s) for s in ('ours', 'reference')]
    # which image a shared snapshot is listed under may differ; what is gone may not
    deleted = [sorted(d['image'] for d in b['deleted']) for b in bodies]
    assert deleted[0] == deleted[1]
    snaps = [sorted(s for d in b['deleted'] for s in d['snapshots']) for b in bodies]
    assert snaps[0] == snaps[1] != []
    assert [sorted(b['kept']) for b in bodies][0] == sorted(bodies[1]['kept'])
    assert sorted(bodies[0]['in_use']) == sorted(bodies[1]['in_use']) != []
    assert len(bodies[0]['kept']) == 5 and deleted[0]


def test_process_figures(warm):
    for fn in bench.FUNCTIONS:
        for side in ('ours', 'reference'):
            r = warm[fn][side]
            assert r['peak_rss_kb'] > 0 and r['cpu_s'] >= 0 and r['calls'] > 0
            assert r['first_next_ms'] <= r['first_done_ms']
            assert len(r['invocation_ms']) == 1 and len(r['invocation_cpu_s']) == 1


def test_cold_starts_and_report(build, warm, tmp_path):
    require(str(build / 'bench' / 'floor'))
    cold = bench.cold_starts(build, 1, lambda msg: None)
    for fn in bench.FUNCTIONS:
        for side in ('ours', 'reference', 'floor'):
            c = cold[fn][side]
            assert len(c['first_next_ms']) == 1
            assert 0 < c['first_next_ms'][0] <= c['first_done_ms'][0]
    data = {'date': 'today', 'machine': bench.machine(), 'sizes': SIZES,
            'zips': bench.zip_sizes(build), 'cold': cold, 'warm': warm, 'callgrind': None}
    data['targets'] = bench.targets(data)
    text = bench.report(data)
    for heading in ('## Cold start', '## A warm invocation', '## Deployment zip', '## Targets'):
        assert heading in text
    # the floor's own table, and the net ratio in the to-the-response target
    assert '| function | floor: to /next / to the response (median) |' in text
    assert 'net of the floor, the lowest ratio is' in text
    for fn in bench.FUNCTIONS:
        assert f'| {fn} |' in text
        assert data['zips'][fn]['reference'] > 0
    readme = tmp_path / 'README.md'
    readme.write_text(f'a\n{bench.README_BEGIN}\nSTALE-TABLE\n{bench.README_END}\nb\n')
    assert bench.update_readme(readme, bench.readme_table(data))
    new = readme.read_text()
    assert 'STALE-TABLE' not in new and new.startswith('a\n') and new.endswith('\nb\n')
    assert '| stopper (150 instances) |' in new


def test_callgrind_counts(build):
    if not shutil.which('valgrind'):
        pytest.fail('valgrind is missing: make test installs it (bench-deps)')
    for fn in bench.FUNCTIONS:
        require(str(build / 'bench' / fn / 'bootstrap'))
    counts = bench.callgrind(build, {'stopper': 20, 'terminator': 20, 'image_pruner': 8},
                             lambda msg: None)
    for fn in bench.FUNCTIONS:
        assert counts[fn]['instructions'] > 1000
        assert counts[fn]['top'] and all(n > 0 for n, _ in counts[fn]['top'])


def test_floor_sends_the_functions_own_calls(build, tmp_path):
    """The floor's AWS requests are the ones the function's no-op run makes,
    and the emulator accepts them (a refused request would make the floor
    look cheaper than the calls it stands for)."""
    require(str(build / 'bench' / 'floor'))
    for fn in bench.FUNCTIONS:
        with bench.harness.AwsEmu(state={}, page_size=bench.PAGE_SIZE) as aws:
            env = bench.lambda_env(aws, fn)
            n = bench.floor_requests(build, aws, env, fn, str(tmp_path / fn))
            ours = [c['action'] for c in aws.calls()]
            aws.clear_calls()
            r = bench.run_process([str(build / 'bench' / 'floor')],
                                  dict(env, FLOOR_REQUESTS=str(tmp_path / fn)), [{}])
            floor = aws.calls()
            assert n == len(ours) >= 1
            assert [c['action'] for c in floor] == ours
            assert all(c['status'] == 200 for c in floor), floor
            assert r['results'][0]['kind'] == 'response'
