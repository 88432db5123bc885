# CPython's own multiprocessing tests for the forkserver start method, as test/test_multiprocessing_forkserver.py builds
# them (that file is missing from some builds; test/_test_multiprocessing.py, which does the work, is what we need), run
# with a class-name filter, each test's outcome written as JSON. Driven by scripts/test-cpython.mjs, once without the
# ProcScope helper and once with it; this file itself is the same in both runs.
#
# Usage: python forkserver_tests.py OUT.json [--class-prefix P]... [--test ID]... [--timeout S] [--list]
#                                            [--resume [--dead-outcome timeout|crash]]
#   --class-prefix  run the test classes whose name starts with P (default: WithProcessesTest, WithManagerTest)
#   --test          run only this test (Class.method; repeatable); overrides the prefixes
#   --timeout       per-test watchdog in seconds (default 90): past it faulthandler dumps every thread's traceback to
#                   stderr ("Timeout (0:01:30)!") and ends the process (exit 1)
#   --list          write the selected test ids to OUT.json and run nothing
#   --resume        keep the outcomes already in OUT.json and run the planned tests that have none; the test that was
#                   running when the last run died gets --dead-outcome (default crash) and is not run again
#
# OUT.json, rewritten (atomically) after every test, so it is valid whatever ends the run:
#   {"python": "3.11.7 ...", "planned": [ids], "results": {id: {"outcome": ..., "seconds": s, "detail": text}},
#    "fixtures": [{"id": "setUpClass (Class)", "outcome": "error", "detail": text}], "running": id or null,
#    "done": bool, "skipped": reason or null}
# Outcomes: pass, fail, error, skip, xfail, xpass, timeout, crash; a planned test with no result was not run.
#
# This file is __main__ in the driver and is imported again as __mp_main__ by the forkserver and by each child it forks
# (the test classes live here, and are pickled by reference): the top level must only build the classes.

import sys

try:
    import test._test_multiprocessing as _tmp
except Exception as error:  # the stdlib `test` package is optional (Debian's libpython3.x-testsuite, for instance)
    _tmp = None
    _IMPORT_ERROR = '%s: %s' % (type(error).__name__, error)
else:
    _IMPORT_ERROR = None
    _tmp.install_tests_in_module_dict(globals(), 'forkserver')

DEFAULT_PREFIXES = ('WithProcessesTest', 'WithManagerTest')


def _main(argv):
    import argparse
    import faulthandler
    import json
    import os
    import time
    import traceback
    import unittest

    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--class-prefix', action='append', dest='prefixes')
    parser.add_argument('--test', action='append', dest='tests')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--dead-outcome', choices=('timeout', 'crash'), default='crash')
    parser.add_argument('--timeout', type=float, default=90.0)
    parser.add_argument('--list', action='store_true')
    args = parser.parse_args(argv)

    state = {
        'python': sys.version, 'planned': [], 'results': {}, 'fixtures': [], 'running': None, 'done': False,
        'skipped': None,
    }

    def save():
        temporary = args.out + '.tmp'
        with open(temporary, 'w') as file:
            json.dump(state, file, indent=1)
        os.replace(temporary, args.out)

    if _tmp is None:
        state['skipped'] = 'test._test_multiprocessing cannot be imported (%s)' % _IMPORT_ERROR
        state['done'] = True
        save()
        return 0

    from test import support
    support.verbose = 0  # as regrtest without -v

    def short_id(test):
        # '__main__.WithProcessesTestProcess.test_lose_target_ref' -> 'WithProcessesTestProcess.test_lose_target_ref'
        ident = test.id()
        prefix = __name__ + '.'
        return ident[len(prefix):] if ident.startswith(prefix) else ident

    loader = unittest.TestLoader()
    classes = sorted(
        (name, value) for name, value in globals().items()
        if isinstance(value, type) and issubclass(value, unittest.TestCase)
    )
    every = {}
    for name, cls in classes:
        for test in loader.loadTestsFromTestCase(cls):
            every[short_id(test)] = test
    if args.tests:
        unknown = [ident for ident in args.tests if ident not in every]
        if unknown:
            parser.error('no such test: %s' % ', '.join(unknown))
        selected = [ident for ident in every if ident in set(args.tests)]
    else:
        prefixes = tuple(args.prefixes or DEFAULT_PREFIXES)
        selected = [ident for ident in every if ident.split('.')[0].startswith(prefixes)]

    if args.resume and os.path.exists(args.out):
        with open(args.out) as file:
            previous = json.load(file)
        state['planned'] = previous['planned']
        state['results'] = previous['results']
        state['fixtures'] = previous['fixtures']
        dead = previous.get('running')
        if dead and dead not in state['results']:
            state['results'][dead] = {
                'outcome': args.dead_outcome, 'seconds': None,
                'detail': 'still running when the per-test watchdog fired' if args.dead_outcome == 'timeout'
                else 'the run died during this test',
            }
        selected = [ident for ident in state['planned'] if ident not in state['results']]
    else:
        state['planned'] = selected
    if args.list:
        save()
        return 0

    started = {}

    def detail_of(err):
        text = ''.join(traceback.format_exception(*err))
        return text if len(text) <= 4000 else '...\n' + text[-4000:]

    class Result(unittest.TextTestResult):
        def startTest(self, test):
            super().startTest(test)
            ident = short_id(test)
            started[ident] = time.monotonic()
            state['running'] = ident
            save()  # before arming the watchdog, so a run it ends says which test it was in
            faulthandler.dump_traceback_later(args.timeout, exit=True)

        def stopTest(self, test):
            faulthandler.cancel_dump_traceback_later()
            super().stopTest(test)
            ident = short_id(test)
            state['running'] = None
            state['results'].setdefault(ident, {'outcome': 'pass', 'seconds': None, 'detail': ''})
            state['results'][ident]['seconds'] = round(time.monotonic() - started.pop(ident, time.monotonic()), 3)
            save()

        def _record(self, test, outcome, detail=''):
            if isinstance(test, unittest.case._SubTest):
                test = test.test_case
            if not isinstance(test, unittest.TestCase) or short_id(test) not in every:
                # An error in setUpModule / setUpClass / tearDownClass: the tests it concerns get no result of their own.
                state['fixtures'].append({'id': str(test), 'outcome': outcome, 'detail': detail})
                save()
                return
            ident = short_id(test)
            current = state['results'].get(ident)
            # A failing subtest or teardown outranks a pass; the first failure's detail is kept.
            if current is None or current['outcome'] in ('pass', 'skip'):
                state['results'][ident] = {'outcome': outcome, 'seconds': None, 'detail': detail}

        def addSuccess(self, test):
            super().addSuccess(test)
            self._record(test, 'pass')

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._record(test, 'fail', detail_of(err))

        def addError(self, test, err):
            super().addError(test, err)
            self._record(test, 'error', detail_of(err))

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._record(test, 'skip', reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._record(test, 'xfail', detail_of(err))

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._record(test, 'xpass')

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                failure = issubclass(err[0], test.failureException)
                self._record(subtest, 'fail' if failure else 'error', detail_of(err))

    save()
    suite = unittest.TestSuite(every[ident] for ident in selected)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=Result)
    runner.run(suite)
    state['running'] = None
    state['done'] = True
    save()
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
