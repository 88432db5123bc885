# Runs one benchmark (argv) as a child subreaper. Orphans of the process trees it builds are re-parented here and
# reaped (PID 1 on these machines reaps nothing, so they would stay zombies and fill the pid space), and whatever is
# still running when the benchmark exits, however it exits, is killed: those are our children, so their pids cannot
# have been reused by anyone else.
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def children():
    pids = []
    for tid in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{tid}/children') as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def main():
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print('[subreaper] prctl(PR_SET_CHILD_SUBREAPER) failed; orphans will not be reaped', file=sys.stderr)
    benchmark = os.fork()
    if benchmark == 0:
        os.execvp(sys.argv[1], sys.argv[1:])

    def forward(signum, _frame):
        try:
            os.kill(benchmark, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = 1
    done = False
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == benchmark:
            status = os.waitstatus_to_exitcode(wait_status)
            done = True
        if done:
            # Leftovers: kill every child we have now; their own children come to us in turn and go the same way.
            for child in children():
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    sys.exit(status if status >= 0 else 128 - status)


main()
